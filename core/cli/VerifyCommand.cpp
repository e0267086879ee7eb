#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/cli/ConversionChoices.hpp"
#include "core/cli/PluginChoice.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

namespace ckptconv::cli {
namespace {

// How a tensor is named in OUT: pt keeps its roots (root.key), flat formats name it core::flat_name.
std::string name_in(const std::string& format, const core::CheckpointIndex& index, const core::IndexedTensor& t) {
    return format == "pt" ? core::dotted_name(index.roots[t.root].path, t.key) : core::flat_name(index, t);
}

// Which format OUT is, and the file holding its tensors.
std::pair<std::string, std::string> locate(const std::string& out, const std::string& component) {
    std::error_code ec;
    if (std::filesystem::is_directory(out, ec)) {
        if (!component.empty() && std::filesystem::is_directory(std::filesystem::path(out) / component, ec))
            return {"diffusers", (std::filesystem::path(out) / component).string()};
        return {"safetensors", out};
    }
    const bool st = out.size() > 12 && (out.compare(out.size() - 12, 12, ".safetensors") == 0 ||
                                        out.find(".index.json") != std::string::npos);
    return {st ? "safetensors" : "pt", out};
}

} // namespace

int run_verify(const std::vector<std::string>& tokens) {
    CommandSpec spec{"verify",
                     "FILE OUT [--json] [--plugin ID[@VER]|none] [--format-version V] [--dtype D] [--option K=V]...",
                     "Re-derive every output of a conversion from FILE and compare it byte for byte with OUT.",
                     {},
                     {},
                     {"file", "out"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "the input that was converted")(
        "out", po::value<std::string>()->required(),
        "what convert wrote (file, shard index or folder)")("json", po::bool_switch(), "machine-readable output")(
        "plugin", po::value<std::string>(),
        "as given to convert")("format-version", po::value<std::string>(),
                               "as given to convert")("dtype", po::value<std::string>(), "as given to convert")(
        "option", po::value<std::vector<std::string>>()->composing(), "as given to convert");
    spec.positional.add("file", 1).add("out", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string out = (*vm)["out"].as<std::string>();
    const ConversionChoices choices = read_conversion_choices(*vm, session->config());

    const core::CheckpointIndex index = core::open_checkpoint(file);
    const core::AbiIndex abi(index);
    const PluginChoice chosen =
        choices.use_rules ? PluginChoice{} : choose_plugin(*session, abi, choices.plugin, choices.format_version);

    // The expected tensors: name -> bytes producer, dtype and shape.
    struct Expected {
        core::DType dtype;
        core::Shape shape;
        std::function<std::string()> bytes;
    };
    std::map<std::string, Expected> expected;
    std::unique_ptr<core::Plan> plan;
    std::unique_ptr<core::PlanExecutor> executor;
    std::string format;
    if (chosen.no_plugin) {
        format = locate(out, "").first;
        for (const auto& t : index.tensors)
            expected[name_in(format, index, t)] = {t.info->dtype, t.info->shape, [&index, &t] {
                                                       std::string scratch;
                                                       return std::string(core::tensor_bytes(index, *t.info, scratch));
                                                   }};
    } else {
        plan =
            std::make_unique<core::Plan>(plan_conversion(choices, session->config(), index, abi, chosen, "diffusers"));
        format = locate(out, plan->component_dir).first;
        const std::optional<core::DType> cast_to = core::dtype_option_target(choices.dtype);
        executor = std::make_unique<core::PlanExecutor>(index, *plan, cast_to);
        std::set<std::string> roots;
        for (const auto& o : plan->outputs) roots.insert(o.root);
        for (size_t i = 0; i < plan->outputs.size(); ++i) {
            const auto& o = plan->outputs[i];
            const std::string name = format == "pt" || roots.size() > 1 ? core::dotted_name(o.root, o.key) : o.key;
            const core::PlanExecutor* ex = executor.get();
            expected[name] = {executor->dtype(i), executor->shape(i), [ex, i] { return ex->bytes(i); }};
        }
    }
    const core::CheckpointIndex written = core::open_checkpoint(locate(out, plan ? plan->component_dir : "").second);
    std::map<std::string, const core::IndexedTensor*> actual;
    for (const auto& t : written.tensors) actual[name_in(format, written, t)] = &t;
    // Tied names recorded by our safetensors writer point at the tensor written once.
    for (const auto& [removed, kept] : written.metadata)
        if (removed != "format" && actual.count(kept) && !actual.count(removed)) actual[removed] = actual[kept];

    std::vector<std::string> missing, unexpected, different;
    for (const auto& [name, e] : expected) {
        auto it = actual.find(name);
        if (it == actual.end()) {
            missing.push_back(name);
            continue;
        }
        const core::IndexedTensor& t = *it->second;
        std::string scratch;
        if (t.info->dtype != e.dtype || t.info->shape != e.shape ||
            core::tensor_bytes(written, *t.info, scratch) != e.bytes())
            different.push_back(name);
    }
    for (const auto& [name, t] : actual)
        if (!expected.count(name)) unexpected.push_back(name);
    const bool ok = missing.empty() && unexpected.empty() && different.empty();
    if ((*vm)["json"].as<bool>()) {
        nlohmann::ordered_json j{{"file", file},
                                 {"output", out},
                                 {"checked", expected.size()},
                                 {"ok", ok},
                                 {"missing", missing},
                                 {"unexpected", unexpected},
                                 {"different", different}};
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s: %zu tensors checked against %s: %s\n", out.c_str(), expected.size(), file.c_str(),
                    ok ? "identical" : "MISMATCH");
        for (const auto& n : missing) std::printf("  missing:    %s\n", n.c_str());
        for (const auto& n : unexpected) std::printf("  unexpected: %s\n", n.c_str());
        for (const auto& n : different) std::printf("  different:  %s\n", n.c_str());
    }
    return ok ? 0 : static_cast<int>(core::ExitCode::VerifyMismatch);
}

} // namespace ckptconv::cli
