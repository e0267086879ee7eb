#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/index/DType.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/plan/Plan.hpp"

#include <nlohmann/json.hpp>

#include <fnmatch.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>

namespace ckptconv::cli {

int run_inspect(const std::vector<std::string>& tokens) {
    CommandSpec spec{"inspect",
                     "FILE [--json] [--keys GLOB]",
                     "Show a checkpoint's container, state-dict roots, non-tensor entries and tensors (headers only).",
                     {},
                     {},
                     {"file"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "checkpoint")(
        "json", po::bool_switch(), "machine-readable output")("keys", po::value<std::string>(),
                                                              "only tensors whose key matches this glob");
    spec.positional.add("file", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string glob = vm->count("keys") ? (*vm)["keys"].as<std::string>() : "";
    const core::CheckpointIndex index = core::open_checkpoint(file);

    std::vector<uint64_t> root_bytes(index.roots.size(), 0);
    for (const auto& t : index.tensors) root_bytes[t.root] += t.nbytes();
    auto shown = [&](const core::IndexedTensor& t) {
        return glob.empty() || fnmatch(glob.c_str(), t.key.c_str(), 0) == 0;
    };

    if ((*vm)["json"].as<bool>()) {
        nlohmann::ordered_json out;
        out["file"] = index.path;
        out["container"] = index.container;
        out["total_bytes"] = index.tensor_bytes();
        out["roots"] = nlohmann::ordered_json::array();
        for (size_t r = 0; r < index.roots.size(); ++r)
            out["roots"].push_back({{"path", index.roots[r].path},
                                    {"tensors", index.roots[r].tensor_count},
                                    {"bytes", root_bytes[r]},
                                    {"state_dict", index.roots[r].is_state_dict}});
        out["tensors"] = nlohmann::ordered_json::array();
        for (const auto& t : index.tensors)
            if (shown(t))
                out["tensors"].push_back({{"root", index.roots[t.root].path},
                                          {"key", t.key},
                                          {"dtype", core::dtype_name(t.info->dtype)},
                                          {"shape", t.info->shape}});
        out["extras"] = nlohmann::ordered_json::array();
        for (const auto& e : index.extras) out["extras"].push_back({{"path", e.path}, {"type", e.type}});
        if (!index.metadata.empty()) out["metadata"] = index.metadata;
        std::cout << out.dump(2) << "\n";
        return 0;
    }

    std::map<std::string, uint64_t> dtypes;
    for (const auto& t : index.tensors) dtypes[std::string(core::dtype_name(t.info->dtype))] += 1;
    std::printf("file:      %s\ncontainer: %s\ntensors:   %zu (%llu bytes)", index.path.c_str(),
                index.container.c_str(), index.tensors.size(), static_cast<unsigned long long>(index.tensor_bytes()));
    for (const auto& [name, n] : dtypes) std::printf(" %s:%llu", name.c_str(), static_cast<unsigned long long>(n));
    std::printf("\nroots:\n");
    for (size_t r = 0; r < index.roots.size(); ++r)
        std::printf("  %-30s %6llu tensors %14llu bytes%s\n",
                    index.roots[r].path.empty() ? "<top>" : index.roots[r].path.c_str(),
                    static_cast<unsigned long long>(index.roots[r].tensor_count),
                    static_cast<unsigned long long>(root_bytes[r]),
                    index.roots[r].is_state_dict ? "  (state dict)" : "");
    if (!index.extras.empty()) {
        std::printf("extras:\n");
        for (const auto& e : index.extras) std::printf("  %-30s %s\n", e.path.c_str(), e.type.c_str());
    }
    for (const auto& [k, v] : index.metadata) std::printf("metadata: %s = %s\n", k.c_str(), v.c_str());
    std::printf("keys:\n");
    std::fflush(stdout);
    // A million keys are printed through one reused buffer: no allocation per line.
    std::string out;
    char number[24];
    for (const auto& t : index.tensors) {
        if (!shown(t)) continue;
        const std::string& root = index.roots[t.root].path;
        out += "  ";
        if (!root.empty()) out.append(root).append(" / ");
        out.append(t.key).append("  ").append(core::dtype_name(t.info->dtype)).append(" [");
        for (size_t d = 0; d < t.info->shape.size(); ++d) {
            if (d) out += ", ";
            out.append(number, std::to_chars(number, number + sizeof number, t.info->shape[d]).ptr);
        }
        out += "]\n";
        if (out.size() >= (1u << 16)) {
            std::fwrite(out.data(), 1, out.size(), stdout);
            out.clear();
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace ckptconv::cli
