#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/convert/OpenedInput.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace ckptconv::cli {
namespace {

nlohmann::ordered_json candidate_json(const core::Candidate& c) {
    nlohmann::ordered_json j = {{"plugin", c.plugin->id},
                                {"plugin_version", c.plugin->version},
                                {"format_version", c.format_version},
                                {"variant", c.variant},
                                {"score", c.score},
                                {"reason", c.reason}};
    if (!c.target.empty()) j["target"] = c.target;
    if (!c.error.empty()) j["error"] = c.error;
    return j;
}

} // namespace

int run_detect(const std::vector<std::string>& tokens) {
    CommandSpec spec{"detect",
                     "FILE [--json] [--plugin ID[@VERSION]] [--format-version V]",
                     "Ask every plugin to score the checkpoint; show the candidates and the one selected.",
                     {},
                     {},
                     {"file"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "checkpoint")(
        "json", po::bool_switch(), "machine-readable output")("plugin", po::value<std::string>(),
                                                              "use this plugin instead of detecting")(
        "format-version", po::value<std::string>(), "override the detected format version");
    spec.positional.add("file", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string plugin = vm->count("plugin") ? (*vm)["plugin"].as<std::string>() : "";
    std::string format_version = vm->count("format-version") ? (*vm)["format-version"].as<std::string>() : "";
    if (format_version.empty() && session->config().format_version) format_version = *session->config().format_version;
    if (plugin == "none") throw core::Error(core::ExitCode::Usage, "detect: --plugin none detects nothing");

    const convert::OpenedInput opened =
        convert::open_input(*session, file, {}, plugin, format_version, /*use_rules=*/false, /*report_only=*/true);
    const core::CheckpointIndex& index = opened.index;
    const convert::PluginChoice& choice = opened.chosen;
    const auto& d = choice.detection;

    if ((*vm)["json"].as<bool>()) {
        nlohmann::ordered_json out;
        out["file"] = file;
        out["container"] = index.container;
        out["candidates"] = nlohmann::ordered_json::array();
        for (const auto& c : d.candidates) out["candidates"].push_back(candidate_json(c));
        out["selected"] = choice.chosen ? candidate_json(*choice.chosen) : nlohmann::ordered_json(nullptr);
        if (!choice.chosen) out["problem"] = d.problem;
        std::cout << out.dump(2) << "\n";
    } else {
        std::printf("file:      %s\ncontainer: %s (%zu tensors in %zu roots)\n", file.c_str(), index.container.c_str(),
                    index.tensors.size(), index.roots.size());
        if (choice.chosen) {
            const auto& c = *choice.chosen;
            std::printf("selected:  %s  format %s%s%s%s%s\n           %s\n", c.plugin->label().c_str(),
                        c.format_version.c_str(), c.variant.empty() ? "" : "  variant ", c.variant.c_str(),
                        c.target.empty() ? "" : "  -> ", c.target.c_str(), c.reason.c_str());
        } else {
            std::printf("selected:  none (%s)\n", d.problem.c_str());
        }
        std::printf("candidates:\n");
        for (const auto& c : d.candidates)
            std::printf("  %3d  %-24s %s\n", c.score, c.plugin->label().c_str(),
                        c.error.empty() ? c.reason.c_str() : ("detect failed: " + c.error).c_str());
    }
    if (!choice.chosen) throw core::Error(core::ExitCode::NoPlugin, d.problem);
    return 0;
}

} // namespace ckptconv::cli
