#include "core/convert/PipelineConversion.hpp"

#include "core/convert/PreparedConversion.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/util/Error.hpp"
#include "core/util/Text.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace ckptconv::convert {
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
    std::optional<fs::path> text_encoder = settings.text_encoder;
    std::string text_encoder_name = text_encoder ? "--text-encoder " + text_encoder->string() : "";
    core::ReadOptions read_options; // a DeepSpeed component gives the copy --dtype asks for
    read_options.dtype = core::dtype_option_target(choices.dtype);
    for (const auto& component : selected) {
        if (const fs::path dir = fs::path(settings.folder) / component.name; is_t5_folder(dir)) {
            if (settings.text_encoder) {
                skipped.push_back(component.name + ": not converted (--text-encoder " +
                                  settings.text_encoder->string() + " is the text encoder)");
                continue;
            }
            if (text_encoder)
                throw core::Error(core::ExitCode::Usage, settings.folder + ": components " + text_encoder_name +
                                                             " and " + component.name +
                                                             " are both T5 text encoders; choose with --component");
            text_encoder = dir;
            text_encoder_name = component.name;
            continue;
        }
        auto d = std::make_unique<DetectedComponent>(
            DetectedComponent{component, core::open_checkpoint(component.checkpoint.string(), read_options), {}});
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
    std::unique_ptr<T5TextEncoder> t5;
    if (text_encoder) {
        if (!is_t5_folder(*text_encoder))
            throw core::Error(core::ExitCode::Usage, "--text-encoder " + text_encoder->string() +
                                                         ": expected a transformers T5 folder (config.json with "
                                                         "model_type \"t5\")");
        try {
            t5 = std::make_unique<T5TextEncoder>(*text_encoder, choices.dtype, choices.options);
        } catch (const core::Error& e) {
            throw core::Error(e.code(), text_encoder->string() + ": " + e.what());
        }
        t5->report().output = (fs::path(settings.output) / "text_encoder").string();
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
    if (t5) {
        shared.options.emplace_back("pipeline.text_encoder", "T5EncoderModel");
        if (t5->tokenizer_class()) shared.options.emplace_back("pipeline.tokenizer", *t5->tokenizer_class());
    }

    std::vector<std::unique_ptr<PreparedConversion>> conversions;
    std::map<std::string, std::string> writer_of; // output folder or file -> component
    if (t5) writer_of = {{"text_encoder/", text_encoder_name}, {"tokenizer/", text_encoder_name}};
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
    PlannedPipeline planned{{}, std::move(conversions), std::move(skipped), std::move(t5)};
    for (const auto& d : detected) planned.names.push_back(d->component.name);
    return planned;
}

std::vector<fs::path> PlannedPipeline::inputs() const {
    std::vector<fs::path> files;
    for (const auto& c : conversions)
        for (const auto& f : c->inputs()) files.push_back(f);
    if (text_encoder)
        for (const auto& f : text_encoder->inputs()) files.push_back(f);
    return files;
}

uint64_t PlannedPipeline::planned_bytes() const {
    uint64_t planned = 0;
    for (const auto& c : conversions) planned += c->planned_bytes();
    return planned + (text_encoder ? text_encoder->planned_bytes() : 0);
}

void PlannedPipeline::write(core::OutputTransaction& tx, const fs::path& output, uint64_t shard_size) {
    for (auto& c : conversions) c->write(tx, output, shard_size);
    if (text_encoder) text_encoder->write(tx, output);
}

std::string PlannedPipeline::plan_text() const {
    std::string s;
    for (size_t i = 0; i < conversions.size(); ++i)
        s += "== component " + names[i] + "\n" + core::plan_text(conversions[i]->index(), conversions[i]->plan());
    if (text_encoder)
        s += "== text encoder " + text_encoder->report().input + "\n" +
             core::plan_text(text_encoder->index(), text_encoder->plan());
    return s;
}

std::string PlannedPipeline::report_text() const {
    std::string s;
    for (size_t i = 0; i < conversions.size(); ++i)
        s += "== component " + names[i] + "\n" + core::report_text(conversions[i]->report());
    if (text_encoder) s += "== text encoder\n" + core::report_text(text_encoder->report());
    for (const auto& line : skipped) s += "not converted: " + line + "\n";
    return s;
}

nlohmann::ordered_json PlannedPipeline::report_json(const std::string& input, const std::string& output) const {
    nlohmann::ordered_json json;
    json["input"] = input;
    json["output"] = output;
    json["components"] = nlohmann::ordered_json::object();
    json["not_converted"] = skipped;
    for (size_t i = 0; i < conversions.size(); ++i)
        json["components"][names[i]] = core::report_json(conversions[i]->report());
    if (text_encoder) json["text_encoder"] = core::report_json(text_encoder->report());
    return json;
}

} // namespace ckptconv::convert
