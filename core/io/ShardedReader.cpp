#include "core/io/ShardedReader.hpp"

#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

// Collects "weight_map" (tensor -> shard file) from an index JSON, ignoring every other key,
// in one linear pass (an index of a million tensors is read in well under a second).
class WeightMapSax {
  public:
    struct Entry {
        uint32_t shard = 0; ///< index into `shards`
        bool held = false;  ///< seen in that shard
    };
    std::unordered_map<std::string, Entry> map; ///< tensor -> shard, built in one pass
    std::vector<std::string> shards;            ///< distinct shard names, first-seen order
    std::string duplicate;                      ///< a tensor named twice
    bool found = false;
    std::string error;

    bool null() { return value("null"); }
    bool boolean(bool) { return value("a boolean"); }
    bool number_integer(int64_t) { return value("a number"); }
    bool number_unsigned(uint64_t) { return value("a number"); }
    bool number_float(double, const std::string&) { return value("a number"); }
    bool binary(nlohmann::json::binary_t&) { return value("binary"); }
    bool string(std::string& v) {
        if (!in_map()) return true;
        auto [at, fresh] = shard_numbers_.emplace(std::move(v), static_cast<uint32_t>(shards.size()));
        if (fresh) shards.push_back(at->first);
        if (!map.try_emplace(std::move(key_), Entry{at->second, false}).second && duplicate.empty()) duplicate = key_;
        return true;
    }
    bool start_object(std::size_t) { return open(true); }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(false); }
    bool end_array() { return close(); }
    bool key(std::string& k) {
        key_ = std::move(k);
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) {
        error = e.what();
        return false;
    }

  private:
    bool in_map() const { return depth_ == 2 && map_open_; }
    bool value(const char* what) {
        if (!in_map()) return true;
        error = "weight_map entry '" + key_ + "' is " + what + ", not a file name";
        return false;
    }
    bool open(bool object) {
        if (in_map()) return value(object ? "an object" : "an array");
        if (depth_ == 0 && !object) {
            error = "not a JSON object";
            return false;
        }
        if (depth_ == 1 && key_ == "weight_map") {
            if (!object || found) {
                error = found ? "\"weight_map\" appears twice" : "\"weight_map\" is not an object";
                return false;
            }
            found = map_open_ = true;
        }
        ++depth_;
        return true;
    }
    bool close() {
        if (--depth_ == 1) map_open_ = false;
        return true;
    }
    int depth_ = 0;
    bool map_open_ = false;
    std::string key_;
    std::unordered_map<std::string, uint32_t> shard_numbers_;
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
    const MappedFile file(path); // regular files only: a FIFO is refused, never waited on
    const std::string_view text = file.slice(0, file.size(), "index");
    WeightMapSax sax;
    sax.map.reserve(text.size() / 64); // an entry takes at least ~64 bytes: no rehashing on the way
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &sax))
        throw bad_input(path, "not a sharded-checkpoint index: " + (sax.error.empty() ? "invalid JSON" : sax.error));
    if (!sax.found) throw bad_input(path, "no \"weight_map\" object: not a sharded-checkpoint index");

    if (!sax.duplicate.empty()) throw bad_input(path, "weight_map names '" + sax.duplicate + "' twice");
    const std::string index_name = index_json.filename().string();
    for (const auto& shard : sax.shards) check_shard_name(path, index_name, shard);
    std::vector<uint32_t> order(sax.shards.size()); // shards are read in name order
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return sax.shards[a] < sax.shards[b]; });

    CheckpointIndex merged;
    merged.path = path;
    merged.also_read.push_back(path);
    merged.tensors.reserve(sax.map.size());
    merged.storages.reserve(sax.map.size());
    for (const uint32_t number : order) {
        const std::string& f = sax.shards[number];
        const fs::path shard_path = index_json.parent_path() / f;
        std::error_code ec;
        if (!fs::exists(shard_path, ec)) throw bad_input(path, "shard '" + f + "' named by the weight_map is missing");
        CheckpointIndex shard = open_checkpoint_file(shard_path.string(), options); // never another index
        if (merged.container.empty())
            merged.container = shard.container == "safetensors" ? "safetensors-sharded" : "torch-sharded";
        const auto file_base = static_cast<uint32_t>(merged.files.size());
        for (auto& s : shard.storages) s->file += file_base;
        for (auto& m : shard.files) merged.files.push_back(std::move(m));
        for (auto& t : shard.tensors) {
            if (!shard.roots[t.root].path.empty())
                throw bad_input(shard_path.string(), "shard holds tensors under '" + shard.roots[t.root].path +
                                                         "', expected a flat state dict");
            auto it = sax.map.find(t.key);
            if (it == sax.map.end())
                throw bad_input(path, "tensor '" + t.key + "' in shard '" + f + "' is not in the weight_map");
            if (it->second.shard != number)
                throw bad_input(path, "tensor '" + t.key + "' is in shard '" + f + "' but the weight_map says '" +
                                          sax.shards[it->second.shard] + "'");
            if (it->second.held) throw bad_input(path, "tensor '" + t.key + "' appears in two shards");
            it->second.held = true;
            add_flat_tensor(merged, std::move(t.key), std::move(t.info));
        }
        for (const auto& [k, v] : shard.metadata) merged.metadata[k] = v;
    }
    for (const auto& [name, entry] : sax.map)
        if (!entry.held)
            throw bad_input(path, "tensor '" + name + "' is mapped to shard '" + sax.shards[entry.shard] +
                                      "' but that shard does not hold it");
    finish_flat_index(merged);
    return merged;
}

} // namespace ckptconv::core
