#include "core/io/ShardedReader.hpp"

#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace ckptconv::core {
namespace fs = std::filesystem;

CheckpointIndex read_sharded(const fs::path& index_json) {
    const std::string path = index_json.string();
    std::ifstream in(index_json);
    if (!in) throw bad_input(path, "cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
        throw bad_input(path, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
        throw bad_input(path, "no \"weight_map\" object: not a sharded-checkpoint index");

    std::map<std::string, std::string> weight_map; // tensor -> shard file
    std::vector<std::string> shard_files;
    std::set<std::string> seen;
    for (const auto& [name, file] : j["weight_map"].items()) {
        if (!file.is_string()) throw bad_input(path, "weight_map entry '" + name + "' is not a file name");
        const std::string f = file.get<std::string>();
        if (f.find('/') != std::string::npos || f == "..")
            throw bad_input(path, "weight_map names a file outside the folder: " + f);
        weight_map[name] = f;
        if (seen.insert(f).second) shard_files.push_back(f);
    }
    std::sort(shard_files.begin(), shard_files.end());

    CheckpointIndex merged;
    merged.path = path;
    auto tree = PyObject::make(PyKind::Dict);
    tree->ordered = true;
    std::set<std::string> found;
    for (const auto& f : shard_files) {
        const fs::path shard_path = index_json.parent_path() / f;
        std::error_code ec;
        if (!fs::exists(shard_path, ec)) throw bad_input(path, "shard '" + f + "' named by the weight_map is missing");
        CheckpointIndex shard = open_checkpoint(shard_path.string());
        if (merged.container.empty())
            merged.container = shard.container == "safetensors" ? "safetensors-sharded" : "torch-sharded";
        const auto file_base = static_cast<uint32_t>(merged.files.size());
        for (auto& s : shard.storages) s->file += file_base;
        for (auto& m : shard.files) merged.files.push_back(std::move(m));
        for (const auto& t : shard.tensors) {
            if (!shard.roots[t.root].path.empty())
                throw bad_input(shard_path.string(), "shard holds tensors under '" + shard.roots[t.root].path +
                                                         "', expected a flat state dict");
            auto it = weight_map.find(t.key);
            if (it == weight_map.end())
                throw bad_input(path, "tensor '" + t.key + "' in shard '" + f + "' is not in the weight_map");
            if (it->second != f)
                throw bad_input(path, "tensor '" + t.key + "' is in shard '" + f + "' but the weight_map says '" +
                                          it->second + "'");
            if (!found.insert(t.key).second) throw bad_input(path, "tensor '" + t.key + "' appears in two shards");
            auto node = PyObject::make(PyKind::Tensor);
            node->tensor = t.info;
            tree->dict_set(PyObject::make_str(t.key), node);
        }
        for (const auto& [k, v] : shard.metadata) merged.metadata[k] = v;
    }
    for (const auto& [name, f] : weight_map)
        if (!found.count(name))
            throw bad_input(path,
                            "tensor '" + name + "' is mapped to shard '" + f + "' but that shard does not hold it");
    merged.tree = std::move(tree);
    build_index_from_tree(merged);
    return merged;
}

} // namespace ckptconv::core
