#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/Plan.hpp"
#include "core/plan/TensorEngine.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

namespace ckptconv::cli {
namespace {

// Tensors by their flat name (core::flat_name).
std::map<std::string, const core::IndexedTensor*> by_name(const core::CheckpointIndex& index) {
    std::map<std::string, const core::IndexedTensor*> out;
    for (const auto& t : index.tensors) out[core::flat_name(index, t)] = &t;
    return out;
}

} // namespace

int run_diff(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "diff", "A B [--json]", "Compare two checkpoints in any formats: keys, shapes, dtypes and values.", {},
        {},     {"a", "b"}};
    spec.options.add_options()("a", po::value<std::string>()->required(), "first checkpoint")(
        "b", po::value<std::string>()->required(), "second checkpoint")("json", po::bool_switch(),
                                                                        "machine-readable output");
    spec.positional.add("a", 1).add("b", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const core::CheckpointIndex a = core::open_checkpoint((*vm)["a"].as<std::string>());
    const core::CheckpointIndex b = core::open_checkpoint((*vm)["b"].as<std::string>());
    const auto na = by_name(a);
    const auto nb = by_name(b);

    nlohmann::ordered_json j;
    j["a"] = a.path;
    j["b"] = b.path;
    j["only_in_a"] = nlohmann::ordered_json::array();
    j["only_in_b"] = nlohmann::ordered_json::array();
    j["shape_or_dtype"] = nlohmann::ordered_json::array();
    j["values"] = nlohmann::ordered_json::array();
    uint64_t identical = 0;
    for (const auto& [name, ta] : na) {
        auto it = nb.find(name);
        if (it == nb.end()) {
            j["only_in_a"].push_back(name);
            continue;
        }
        const core::IndexedTensor& tb = *it->second;
        if (ta->info->shape != tb.info->shape || ta->info->dtype != tb.info->dtype) {
            j["shape_or_dtype"].push_back(
                {{"key", name},
                 {"a", std::string(core::dtype_name(ta->info->dtype)) + core::shape_text(ta->info->shape)},
                 {"b", std::string(core::dtype_name(tb.info->dtype)) + core::shape_text(tb.info->shape)}});
            if (ta->info->shape != tb.info->shape) continue;
        }
        std::string sa, sb;
        const std::string_view ba = core::tensor_bytes(a, *ta->info, sa);
        const std::string_view bb = core::tensor_bytes(b, *tb.info, sb);
        if (ta->info->dtype == tb.info->dtype && ba == bb) {
            ++identical;
            continue;
        }
        const double d = core::tensor_engine().max_abs_diff(ta->info->dtype, ba, tb.info->dtype, bb, ta->info->shape);
        j["values"].push_back(
            {{"key", name},
             {"max_abs_diff", std::isnan(d) ? nlohmann::ordered_json("nan") : nlohmann::ordered_json(d)}});
    }
    for (const auto& [name, tb] : nb)
        if (!na.count(name)) j["only_in_b"].push_back(name);
    j["identical"] = identical;
    const bool same =
        j["only_in_a"].empty() && j["only_in_b"].empty() && j["shape_or_dtype"].empty() && j["values"].empty();
    j["same"] = same;
    if ((*vm)["json"].as<bool>()) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%llu identical tensors\n", static_cast<unsigned long long>(identical));
        for (const auto& n : j["only_in_a"]) std::printf("only in A: %s\n", n.get<std::string>().c_str());
        for (const auto& n : j["only_in_b"]) std::printf("only in B: %s\n", n.get<std::string>().c_str());
        for (const auto& d : j["shape_or_dtype"])
            std::printf("differs:   %s  %s vs %s\n", d["key"].get<std::string>().c_str(),
                        d["a"].get<std::string>().c_str(), d["b"].get<std::string>().c_str());
        for (const auto& d : j["values"])
            std::printf("values:    %s  max |a-b| = %s\n", d["key"].get<std::string>().c_str(),
                        d["max_abs_diff"].dump().c_str());
    }
    // diff reports; like diff(1) it exits 7 (mismatch) when the checkpoints differ.
    return same ? 0 : static_cast<int>(core::ExitCode::VerifyMismatch);
}

} // namespace ckptconv::cli
