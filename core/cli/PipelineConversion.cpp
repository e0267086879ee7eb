#include "core/cli/PipelineConversion.hpp"

#include "core/cli/PreparedConversion.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"
#include "core/util/Progress.hpp"
#include "core/util/Text.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

namespace ckptconv::cli {
namespace fs = std::filesystem;

namespace {

struct DetectedComponent {
    core::FolderComponent component;
    core::CheckpointIndex index;
    PluginChoice chosen;
};

std::string names_of(const std::vector<core::FolderComponent>& components) {
    std::vector<std::string> names;
    for (const auto& c : components) names.push_back(c.name);
    return core::join(names);
}

std::vector<core::FolderComponent> selected_components(const core::PipelineFolder& folder,
                                                       const PipelineSettings& settings) {
    if (settings.only.empty()) return folder.components;
    std::vector<core::FolderComponent> picked;
    for (const auto& name : settings.only) {
        auto it = std::find_if(folder.components.begin(), folder.components.end(),
                               [&](const auto& c) { return c.name == name; });
        if (it == folder.components.end())
            throw core::Error(core::ExitCode::Usage, "--component " + name + ": " + settings.folder +
                                                         " has no such component (it has " +
                                                         names_of(folder.components) + ")");
        picked.push_back(*it);
    }
    return picked;
}

void refuse_single_checkpoint_choices(const ConversionChoices& choices, const PipelineSettings& settings,
                                      const core::PipelineFolder& folder) {
    const std::string what = settings.folder + " is a pipeline folder (components " + names_of(folder.components) +
                             "), and each component is detected on its own; ";
    if (!choices.plugin.empty() || !choices.format_version.empty() || choices.use_rules)
        throw core::Error(core::ExitCode::Usage,
                          what +
                              "--plugin, --format-version and config rules apply to one checkpoint: convert a "
                              "component folder (e.g. " +
                              (fs::path(settings.folder) / folder.components.front().name).string() + ") with them");
    if (!settings.to.empty() && settings.to != "diffusers")
        throw core::Error(core::ExitCode::Usage,
                          what + "it converts to a diffusers folder; --to " + settings.to + " works on one component");
}

} // namespace

PlannedPipeline plan_pipeline(const Session& session, const core::PipelineFolder& folder,
                              const ConversionChoices& choices, const PipelineSettings& settings) {
    refuse_single_checkpoint_choices(choices, settings, folder);
    std::vector<std::string> skipped = folder.skipped;
    std::vector<std::unique_ptr<DetectedComponent>> detected;
    std::map<std::string, std::string> component_of_plugin;
    const std::vector<core::FolderComponent> selected = selected_components(folder, settings);
    for (const auto& component : selected) {
        auto d = std::make_unique<DetectedComponent>(
            DetectedComponent{component, core::open_checkpoint(component.checkpoint.string()), {}});
        const core::AbiIndex abi(d->index);
        d->chosen = choose_plugin(session, abi, "", "", /*report_only=*/true);
        const std::string where = (fs::path(settings.folder) / component.name).string();
        if (!d->chosen.chosen) {
            if (d->chosen.detection.ambiguous)
                throw core::Error(core::ExitCode::NoPlugin, where + ": " + d->chosen.detection.problem);
            skipped.push_back(component.name + ": not converted (" + d->chosen.detection.problem + ")");
            continue;
        }
        const std::string& id = d->chosen.chosen->plugin->id;
        if (auto [it, fresh] = component_of_plugin.emplace(id, component.name); !fresh) {
            std::string keep; // every component but the first of the two, as an example
            for (const auto& other : selected)
                if (other.name != it->second) keep += " --component " + other.name;
            throw core::Error(core::ExitCode::Usage, settings.folder + ": components " + it->second + " and " +
                                                         component.name + " are both " + id +
                                                         " checkpoints, and a pipeline holds one; choose with "
                                                         "--component, e.g." +
                                                         keep);
        }
        detected.push_back(std::move(d));
    }
    if (detected.empty())
        throw core::Error(core::ExitCode::NoPlugin, settings.folder + ": no plugin recognises any of its components (" +
                                                        core::join(skipped, ",") + ")");

    // What each plugin may want to know of the others: which are converted, and as what variant.
    ConversionChoices shared = choices;
    std::vector<std::string> ids;
    for (const auto& d : detected) ids.push_back(d->chosen.chosen->plugin->id);
    shared.options.emplace_back("pipeline.plugins", core::join(ids, ","));
    for (const auto& d : detected)
        shared.options.emplace_back("pipeline." + d->chosen.chosen->plugin->id + ".variant", d->chosen.chosen->variant);

    std::vector<std::unique_ptr<PreparedConversion>> conversions;
    std::map<std::string, std::string> writer_of; // output folder or file -> component
    for (auto& d : detected) {
        const std::string input = d->component.checkpoint.string();
        const std::string where = (fs::path(settings.folder) / d->component.name).string();
        std::unique_ptr<PreparedConversion> c;
        try {
            c = std::make_unique<PreparedConversion>(std::move(d->index), d->chosen, shared, session.config(),
                                                     "diffusers", input, settings.output);
        } catch (const core::Error& e) {
            throw core::Error(e.code(), where + ": " + e.what());
        }
        if (c->format() != "diffusers" || c->plan().component_dir.empty())
            throw core::Error(core::ExitCode::Usage, where + ": plugin " + c->report().plugin +
                                                         " does not convert it to a diffusers component; convert it on "
                                                         "its own");
        std::vector<std::string> claims{c->plan().component_dir + "/"};
        for (const auto& f : c->plan().files) claims.push_back(f.path);
        for (const auto& claim : claims)
            if (auto [it, fresh] = writer_of.emplace(claim, d->component.name); !fresh)
                throw core::Error(core::ExitCode::PlanRejected, "components " + it->second + " and " +
                                                                    d->component.name + " would both write " +
                                                                    (fs::path(settings.output) / claim).string());
        c->report().output = (fs::path(settings.output) / c->plan().component_dir).string();
        conversions.push_back(std::move(c));
    }
    PlannedPipeline planned{{}, std::move(conversions), std::move(skipped)};
    for (const auto& d : detected) planned.names.push_back(d->component.name);
    return planned;
}

int convert_pipeline(const Session& session, const core::PipelineFolder& folder, const ConversionChoices& choices,
                     const PipelineSettings& settings) {
    const PlannedPipeline pipeline = plan_pipeline(session, folder, choices, settings);
    const auto& conversions = pipeline.conversions;
    const auto& skipped = pipeline.skipped;

    nlohmann::ordered_json json;
    json["input"] = settings.folder;
    json["output"] = settings.output;
    json["components"] = nlohmann::ordered_json::object();
    json["not_converted"] = skipped;
    auto report_text = [&] {
        std::string s;
        for (size_t i = 0; i < conversions.size(); ++i)
            s += "== component " + pipeline.names[i] + "\n" + core::report_text(conversions[i]->report());
        for (const auto& line : skipped) s += "not converted: " + line + "\n";
        return s;
    };
    auto fill_json = [&] {
        for (size_t i = 0; i < conversions.size(); ++i)
            json["components"][pipeline.names[i]] = core::report_json(conversions[i]->report());
    };

    std::vector<fs::path> inputs;
    for (const auto& c : conversions)
        for (const auto& f : c->inputs()) inputs.push_back(f);
    core::OutputTransaction tx(settings.force, inputs);
    if (settings.dry_run) {
        for (size_t i = 0; i < conversions.size(); ++i)
            std::printf("== component %s\n%s", pipeline.names[i].c_str(),
                        core::plan_text(conversions[i]->index(), conversions[i]->plan()).c_str());
        std::fputs(report_text().c_str(), stdout);
    } else {
        tx.require_empty_folder(settings.output);
        uint64_t planned = 0;
        for (const auto& c : conversions) planned += c->planned_bytes();
        core::progress_start(planned, settings.show_progress);
        for (auto& c : conversions) c->write(tx, settings.output, settings.shard_size);
        core::progress_finish();
    }
    if (settings.report) {
        fill_json();
        tx.write_text(*settings.report, json.dump(2) + "\n");
    }
    tx.commit();
    if (!settings.quiet && !settings.dry_run) std::fputs(report_text().c_str(), stderr);
    return 0;
}

} // namespace ckptconv::cli
