#include "core/io/ShardedReader.hpp"

#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"
#include "core/util/JsonReader.hpp"
#include "core/util/NameTable.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <optional>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

// The "weight_map" of an index (tensor -> shard file), read in one linear pass
// with every other key skipped. Names live back to back in one buffer, found
// through a NameTable: a million entries cost ~60 MB, not a node and two
// strings each.
class WeightMap {
  public:
    std::vector<std::string> shards; ///< distinct shard names, first-seen order

    /** False when the index has no "weight_map". */
    bool read(std::string_view text) {
        table_ = NameTable(text.size() / 64); // an entry takes at least ~64 bytes: the table never grows
        JsonReader json(text);
        if (json.peek() != JsonReader::Kind::Object) json.fail("not a JSON object");
        json.begin_object();
        std::string_view key;
        bool found = false;
        while (json.next_member(key)) {
            if (key != "weight_map") {
                json.skip_value();
                continue;
            }
            if (found) json.fail("\"weight_map\" appears twice");
            if (json.peek() != JsonReader::Kind::Object) json.fail("\"weight_map\" is not an object");
            found = true;
            entries(json);
        }
        json.finish();
        return found;
    }

    size_t size() const { return shard_of_.size(); }
    std::string_view name(uint32_t id) const {
        return std::string_view(names_).substr(starts_[id], starts_[id + 1] - starts_[id]);
    }
    std::optional<uint32_t> find(std::string_view tensor) const {
        return table_.find(tensor, [this](uint32_t id) { return name(id); });
    }
    uint32_t shard_of(uint32_t id) const { return shard_of_[id]; }
    /** Marks the tensor seen in its shard; false if it was seen before. */
    bool hold(uint32_t id) {
        if (held_[id]) return false;
        held_[id] = true;
        return true;
    }
    bool held(uint32_t id) const { return held_[id]; }
    std::optional<std::string> duplicate; ///< a tensor named twice

  private:
    void entries(JsonReader& json) {
        json.begin_object();
        std::string_view key;
        while (json.next_member(key)) {
            if (shard_of_.size() >= UINT32_MAX - 1) json.fail("too many weight_map entries");
            const auto id = static_cast<uint32_t>(shard_of_.size());
            names_.append(key);
            starts_.push_back(names_.size());
            const JsonReader::Kind kind = json.peek();
            if (kind != JsonReader::Kind::String)
                json.fail("weight_map entry '" + std::string(key) + "' is " +
                          (kind == JsonReader::Kind::Null                                        ? std::string()
                           : kind == JsonReader::Kind::Object || kind == JsonReader::Kind::Array ? "an "
                                                                                                 : "a ") +
                          JsonReader::kind_name(kind) + ", not a file name");
            const std::string_view shard = json.string();
            auto [at, fresh] = shard_numbers_.try_emplace(std::string(shard), static_cast<uint32_t>(shards.size()));
            if (fresh) shards.push_back(at->first);
            shard_of_.push_back(at->second);
            if (table_.insert(name(id), id, [this](uint32_t i) { return name(i); }) != id && !duplicate)
                duplicate = std::string(name(id));
        }
        held_.assign(shard_of_.size(), false);
    }

    std::string names_;               ///< every tensor name, back to back
    std::vector<uint64_t> starts_{0}; ///< name i is names_[starts_[i], starts_[i+1])
    std::vector<uint32_t> shard_of_;  ///< per name: index into `shards`
    std::vector<bool> held_;          ///< per name: found in its shard
    NameTable table_;
    std::map<std::string, uint32_t> shard_numbers_;
};

// A shard name must stay inside the index's folder and name neither the index nor a folder.
void check_shard_name(const std::string& index_path, const std::string& index_name, const std::string& shard) {
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos)
        throw bad_input(index_path,
                        "weight_map names '" + shard + "', which is not a file name inside the index's folder");
    if (shard == index_name) throw bad_input(index_path, "weight_map names the index itself as a shard");
}

} // namespace

CheckpointIndex read_sharded(const fs::path& index_json, const ReadOptions& options) {
    const std::string path = index_json.string();
    WeightMap map;
    {
        const MappedFile file(path); // regular files only: a FIFO is refused, never waited on
        bool found = false;
        try {
            found = map.read(file.slice(0, file.size(), "index"));
        } catch (const JsonSyntaxError& e) {
            throw bad_input(path, std::string("not a sharded-checkpoint index: ") + e.what());
        }
        if (!found) throw bad_input(path, "no \"weight_map\" object: not a sharded-checkpoint index");
    }
    if (map.duplicate) throw bad_input(path, "weight_map names '" + *map.duplicate + "' twice");
    const std::string index_name = index_json.filename().string();
    for (const auto& shard : map.shards) check_shard_name(path, index_name, shard);
    std::vector<uint32_t> order(map.shards.size()); // shards are read in name order
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return map.shards[a] < map.shards[b]; });

    CheckpointIndex merged;
    merged.path = path;
    merged.also_read.push_back(path);
    merged.tensors.reserve(map.size());
    merged.storages.reserve(map.size());
    // Two shards are read at a time on their own threads while the main thread merges:
    // each is parsed on its own and merging stays in name order, so results and errors
    // do not depend on timing. At most three shard indexes are alive besides the merged one.
    auto read_shard = [&](uint32_t number) {
        const std::string& f = map.shards[number];
        const std::string shard_path = (index_json.parent_path() / f).string();
        return std::async(std::launch::async, [&path, &f, shard_path, &options] {
            std::error_code ec;
            if (!fs::exists(shard_path, ec))
                throw bad_input(path, "shard '" + f + "' named by the weight_map is missing");
            return open_checkpoint_file(shard_path, options); // never another index
        });
    };
    constexpr size_t kReadAhead = 2; // the machines this runs on have two cores or more
    std::deque<std::future<CheckpointIndex>> reading;
    size_t launched = 0;
    for (const uint32_t number : order) {
        while (launched < order.size() && reading.size() < kReadAhead) reading.push_back(read_shard(order[launched++]));
        CheckpointIndex shard = reading.front().get();
        reading.pop_front();
        if (launched < order.size()) reading.push_back(read_shard(order[launched++]));
        const std::string& f = map.shards[number];
        const fs::path shard_path = index_json.parent_path() / f;
        if (merged.container.empty())
            merged.container = shard.container == "safetensors" ? "safetensors-sharded" : "torch-sharded";
        const auto file_base = static_cast<uint32_t>(merged.files.size());
        for (auto& s : shard.storages) s->file += file_base;
        for (auto& m : shard.files) merged.files.push_back(std::move(m));
        for (auto& t : shard.tensors) {
            if (!shard.roots[t.root].path.empty())
                throw bad_input(shard_path.string(), "shard holds tensors under '" + shard.roots[t.root].path +
                                                         "', expected a flat state dict");
            const auto id = map.find(t.key);
            if (!id) throw bad_input(path, "tensor '" + t.key + "' in shard '" + f + "' is not in the weight_map");
            if (map.shard_of(*id) != number)
                throw bad_input(path, "tensor '" + t.key + "' is in shard '" + f + "' but the weight_map says '" +
                                          map.shards[map.shard_of(*id)] + "'");
            if (!map.hold(*id)) throw bad_input(path, "tensor '" + t.key + "' appears in two shards");
            add_flat_tensor(merged, std::move(t.key), std::move(t.info));
        }
        for (const auto& [k, v] : shard.metadata) merged.metadata[k] = v;
    }
    for (uint32_t id = 0; id < map.size(); ++id)
        if (!map.held(id))
            throw bad_input(path, "tensor '" + std::string(map.name(id)) + "' is mapped to shard '" +
                                      map.shards[map.shard_of(id)] + "' but that shard does not hold it");
    finish_flat_index(merged);
    return merged;
}

} // namespace ckptconv::core
