#include "core/convert/PreparedConversion.hpp"

#include "core/convert/Provenance.hpp"
#include "core/convert/SidecarValue.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/plan/ConversionWriter.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::convert {

PreparedConversion::PreparedConversion(core::CheckpointIndex index, const PluginChoice& chosen,
                                       const ConversionChoices& choices, const core::Config& config,
                                       const std::string& to, const std::string& input, const std::string& output)
    : index_(std::move(index)) {
    const core::AbiIndex abi(index_);
    const core::Candidate c = choices.use_rules ? core::Candidate{} : *chosen.chosen;
    // The plugin's own target (e.g. diffusers) unless the user chose a container; rules write pt.
    format_ = !to.empty()                                                                ? to
              : c.target == "diffusers" || c.target == "safetensors" || c.target == "hf" ? c.target
                                                                                         : "pt";
    // What the run wrote beside the save, where the plugin asks for it, reaches it as options after the
    // user's (the user's win).
    ConversionChoices with_source = choices;
    std::vector<std::string> source_notes;
    if (!choices.use_rules && !index_.files.empty())
        for (const core::SidecarRequest& request : c.plugin->sidecars) try {
                if (const auto value = read_sidecar(index_.files.front()->path(), request)) {
                    with_source.options.emplace_back(request.option, value->text);
                    source_notes.push_back(request.option + " = " + value->text + ", read from " +
                                           value->file.string() + " (" + request.yaml_path + ")");
                }
            } catch (const core::Error& e) {
                source_notes.push_back(std::string("not used for ") + request.option + ": " + e.what());
            }
    plan_ = plan_conversion(with_source, config, index_, abi, chosen, format_);
    core::check_plan(index_, plan_, choices.dtype != "keep");
    executor_.emplace(index_, plan_, core::dtype_option_target(choices.dtype));

    report_.input = input;
    report_.output = output;
    report_.plugin = choices.use_rules ? "rules:" + config.file.string() : c.plugin->id;
    report_.plugin_version = choices.use_rules ? "" : c.plugin->version;
    report_.format_version = c.format_version;
    report_.variant = c.variant;
    report_.target = plan_.target_name.empty() ? format_ : plan_.target_name;
    report_.roots = core::count_roots(index_, plan_);
    report_.notes = index_.notes; // what reading decided (a DeepSpeed copy) comes before the plan's notes
    report_.notes.insert(report_.notes.end(), plan_.notes.begin(), plan_.notes.end());
    report_.notes.insert(report_.notes.end(), source_notes.begin(), source_notes.end());
    report_.training_state = plan_.training_state;

    provenance_ = provenance(report_, choices.options, index_);

    // A transformers folder loads its tokenizer from the same folder: carry the one beside the source.
    if (format_ == "hf") {
        std::error_code ec;
        const std::filesystem::path dir = std::filesystem::is_directory(input, ec)
                                              ? std::filesystem::path(input)
                                              : std::filesystem::path(input).parent_path();
        tokenizer_ = tokenizer_files_in(dir.empty() ? "." : dir, "");
        std::string names;
        for (const auto& f : tokenizer_) names += (names.empty() ? "" : ", ") + f.target;
        report_.notes.push_back(names.empty() ? "tokenizer: no tokenizer file beside the source; from_pretrained of "
                                                "the tokenizer needs its files added to the folder"
                                              : "tokenizer: " + names + " copied unchanged from beside the source");
    }
}

std::vector<std::filesystem::path> PreparedConversion::inputs() const {
    std::vector<std::filesystem::path> files;
    for (const auto& f : index_.input_files()) files.emplace_back(f);
    for (const auto& f : tokenizer_) files.push_back(f.source);
    return files;
}

uint64_t PreparedConversion::planned_bytes() const {
    uint64_t planned = 0;
    for (size_t i = 0; i < plan_.outputs.size(); ++i)
        if (!plan_.outputs[i].alias_of) planned += executor_->nbytes(i);
    for (const auto& f : tokenizer_) planned += f.size;
    return planned;
}

void PreparedConversion::write(core::OutputTransaction& tx, const std::filesystem::path& target, uint64_t shard_size) {
    auto files = core::write_conversion(
        index_, plan_, *executor_, core::ConversionOutput{format_, target, shard_size, provenance_}, tx, report_.notes);
    report_.files.insert(report_.files.end(), files.begin(), files.end());
    stage_copies(tx, target, tokenizer_, report_.files);
}

} // namespace ckptconv::convert
