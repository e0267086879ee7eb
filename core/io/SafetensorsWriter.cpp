#include "core/io/SafetensorsWriter.hpp"

#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

namespace ckptconv::core {
namespace {

std::string shard_name(const std::string& stem, size_t k, size_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu", k, n);
    return stem + buf + ".safetensors";
}

void write_file(const std::filesystem::path& path, std::vector<const SafetensorsEntry*> entries,
                const std::map<std::string, std::string>& metadata) {
    std::stable_sort(entries.begin(), entries.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
        const uint32_t sa = element_size(a->dtype);
        const uint32_t sb = element_size(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });
    nlohmann::ordered_json header;
    header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto* e : entries) {
        header[e->name] = {{"dtype", std::string(safetensors_name(e->dtype))},
                           {"shape", e->shape},
                           {"data_offsets", {offset, offset + e->nbytes}}};
        offset += e->nbytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    FileWriter out(path.string());
    std::string length;
    for (int i = 0; i < 8; ++i)
        length.push_back(static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF));
    out.write(length);
    out.write(text);
    for (const auto* e : entries) {
        const uint64_t start = out.position();
        e->write(out);
        if (out.position() - start != e->nbytes)
            throw Error(ExitCode::Internal, "tensor '" + e->name + "' produced " +
                                                std::to_string(out.position() - start) + " bytes, expected " +
                                                std::to_string(e->nbytes));
    }
    out.close();
}

} // namespace

uint64_t parse_byte_size(const std::string& text) {
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    std::string unit = text.substr(i);
    for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    double scale = 0;
    if (unit.empty() || unit == "B")
        scale = 1;
    else if (unit == "KB")
        scale = 1e3;
    else if (unit == "MB")
        scale = 1e6;
    else if (unit == "GB")
        scale = 1e9;
    else if (unit == "TB")
        scale = 1e12;
    else if (unit == "KIB")
        scale = 1024.0;
    else if (unit == "MIB")
        scale = 1024.0 * 1024;
    else if (unit == "GIB")
        scale = 1024.0 * 1024 * 1024;
    double value = 0;
    if (i == 0 || scale == 0 || std::sscanf(text.substr(0, i).c_str(), "%lf", &value) != 1 || value <= 0)
        throw Error(ExitCode::Usage,
                    "size '" + text + "': expected a positive number with B, KB, MB, GB, TB, KiB, MiB or GiB");
    return static_cast<uint64_t>(value * scale);
}

namespace {

// Replacing a sharded output: the old index's shards go too, or a smaller new set would
// leave stale shards beside the new index. Only plain file names beside the index count.
void retire_old_shards(OutputTransaction& transaction, const std::filesystem::path& index_path) {
    std::error_code ec;
    if (!transaction.force() || !std::filesystem::is_regular_file(index_path, ec)) return;
    transaction.retire(index_path);
    try {
        const MappedFile old(index_path.string());
        const std::string_view text = old.slice(0, old.size(), "index");
        const auto j = nlohmann::json::parse(text.begin(), text.end());
        std::set<std::string> names;
        for (const auto& [tensor, file] : j.at("weight_map").items())
            if (file.is_string()) names.insert(file.get<std::string>());
        for (const auto& name : names)
            if (!name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
                name != index_path.filename().string())
                transaction.retire(index_path.parent_path() / name);
    } catch (const std::exception&) {
        // Not an index we can read: only the index itself is replaced.
    }
}

} // namespace

std::vector<SafetensorsFileReport> write_safetensors(OutputTransaction& transaction,
                                                     const std::filesystem::path& target,
                                                     const std::vector<SafetensorsEntry>& entries,
                                                     const SafetensorsOptions& options) {
    std::map<std::string, std::string> metadata = options.metadata;
    metadata["format"] = "pt"; // transformers refuses a file without it
    for (const auto& [removed, kept] : options.aliases) metadata[removed] = kept;

    // Greedy split in the given order, as huggingface_hub's split_torch_state_dict_into_shards does:
    // a tensor over the cap becomes a shard of its own at once, while the open shard stays open.
    std::vector<std::vector<const SafetensorsEntry*>> shards;
    std::vector<const SafetensorsEntry*> open;
    uint64_t current = 0;
    uint64_t total = 0;
    for (const auto& e : entries) {
        total += e.nbytes;
        if (options.shard_size && e.nbytes > options.shard_size) {
            shards.push_back({&e});
            continue;
        }
        if (options.shard_size && !open.empty() && current + e.nbytes > options.shard_size) {
            shards.push_back(std::move(open));
            open.clear();
            current = 0;
        }
        open.push_back(&e);
        current += e.nbytes;
    }
    if (!open.empty() || shards.empty()) shards.push_back(std::move(open));

    std::vector<SafetensorsFileReport> reports;
    const std::string file_name = target.filename().string();
    const std::string suffix = ".safetensors";
    const std::string stem = file_name.size() > suffix.size() &&
                                     file_name.compare(file_name.size() - suffix.size(), suffix.size(), suffix) == 0
                                 ? file_name.substr(0, file_name.size() - suffix.size())
                                 : file_name;
    const auto index_path = target.parent_path() / (stem + ".safetensors.index.json");
    retire_old_shards(transaction, index_path);
    if (shards.size() == 1) {
        const auto temp = transaction.stage(target);
        write_file(temp, shards[0], metadata);
        reports.push_back({target, shards[0].size(), std::filesystem::file_size(temp)});
        return reports;
    }
    nlohmann::json weight_map = nlohmann::json::object(); // sorted by name, as huggingface_hub writes it
    for (size_t k = 0; k < shards.size(); ++k) {
        const std::string name = shard_name(stem, k + 1, shards.size());
        const auto final_path = target.parent_path() / name;
        const auto temp = transaction.stage(final_path);
        write_file(temp, shards[k], metadata);
        reports.push_back({final_path, shards[k].size(), std::filesystem::file_size(temp)});
        for (const auto* e : shards[k]) weight_map[e->name] = name;
    }
    nlohmann::json index; // keys sorted: "metadata" before "weight_map"
    index["metadata"] = {{"total_size", total}};
    for (const auto& [k, v] : options.metadata) index["metadata"][k] = v;
    index["weight_map"] = std::move(weight_map);
    const auto temp = transaction.stage(index_path);
    FileWriter out(temp.string());
    out.write(index.dump(2) + "\n");
    out.close();
    reports.push_back({index_path, 0, std::filesystem::file_size(temp)});
    return reports;
}

} // namespace ckptconv::core
