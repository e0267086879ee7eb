#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/cli/ConversionFlags.hpp"
#include "core/convert/OpenedInput.hpp"
#include "core/convert/PipelineConversion.hpp"
#include "core/convert/PluginChoice.hpp"
#include "core/convert/PreparedConversion.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/FileWriter.hpp"
#include "core/io/Recontainer.hpp"
#include "core/io/SafetensorsWriter.hpp"
#include "core/plan/ConversionWriter.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"
#include "core/util/Progress.hpp"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace ckptconv::cli {
namespace {

using convert::PipelineSettings;
using convert::PlannedPipeline;
using convert::PluginChoice;
using convert::PreparedConversion;

struct WriteSettings {
    uint64_t shard_size = 0;
    bool dry_run = false;
    bool force = false;
    bool quiet = false;
    bool show_progress = false;
    std::optional<std::string> report; ///< JSON report path
};

/** A pipeline folder: every component written in one transaction (nothing when any fails). */
int convert_pipeline(const Session& session, const core::PipelineFolder& folder, const ConversionChoices& choices,
                     const PipelineSettings& settings, const WriteSettings& how) {
    PlannedPipeline pipeline = convert::plan_pipeline(session, folder, choices, settings);
    core::OutputTransaction tx(how.force, pipeline.inputs());
    if (how.dry_run) {
        std::fputs((pipeline.plan_text() + pipeline.report_text()).c_str(), stdout);
    } else {
        tx.require_empty_folder(settings.output);
        core::progress_start(pipeline.planned_bytes(), how.show_progress);
        pipeline.write(tx, settings.output, how.shard_size);
        core::progress_finish();
    }
    if (how.report) tx.write_text(*how.report, pipeline.report_json(settings.folder, settings.output).dump(2) + "\n");
    tx.commit();
    if (!how.quiet && !how.dry_run) std::fputs(pipeline.report_text().c_str(), stderr);
    return 0;
}

} // namespace

int run_convert(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "convert",
        "FILE -o OUT [--plugin ID[@VER]|none] [--format-version V] [--to pt|safetensors|diffusers|hf] "
        "[--dtype keep|fp32|fp16|bf16] [--shard-size 5GB] [--option K=V]... [--component NAME]... [--text-encoder DIR] "
        "[--dry-run] "
        "[--report R.json] [--force] [--drop-unsafe] [--check-master] [--cached-writes]",
        "Detect the checkpoint's family and convert it with the plugin's rules (--plugin none: only change "
        "the container). A pipeline folder (subfolders holding checkpoints, e.g. a SAT release) becomes one "
        "diffusers folder, each component detected on its own.",
        {},
        {},
        {"file"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "input checkpoint, shard index or folder")(
        "output,o", po::value<std::string>()->required(), "output file (shards are written beside it)")(
        "plugin", po::value<std::string>(), "ID[@VERSION] to skip detection, or none for a pure change of container")(
        "format-version", po::value<std::string>(), "override the detected format version")(
        "to", po::value<std::string>(), "pt, safetensors, diffusers or hf (a transformers model folder)")(
        "dtype", po::value<std::string>(), "keep (default), fp32, fp16 or bf16")(
        "shard-size", po::value<std::string>(), "largest safetensors shard, e.g. 5GB (decimal, as the Hub)")(
        "option", po::value<std::vector<std::string>>()->composing(),
        "plugin option K=V; repeatable")("component", po::value<std::vector<std::string>>()->composing(),
                                         "pipeline folder: convert only this subfolder; repeatable")(
        "text-encoder", po::value<std::string>(),
        "pipeline folder: carry this transformers T5 folder in as text_encoder/ and tokenizer/")(
        "dry-run", po::bool_switch(), "print the plan and report; write nothing")(
        "report", po::value<std::string>(), "also write the report as JSON here")("force", po::bool_switch(),
                                                                                  "replace an existing output")(
        "drop-unsafe", po::bool_switch(),
        "convert a pickle that reaches for code execution, leaving those parts out (a sanitizer)")(
        "check-master", po::bool_switch(),
        "DeepSpeed ZeRO 1/2 folder: prove the fp32 master rounded to the training dtype equals `module`")(
        "cached-writes", po::bool_switch(),
        "write outputs through the page cache, not past it with O_DIRECT (slow direct I/O, e.g. some network "
        "mounts; or an output read again at once)");
    spec.positional.add("file", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    const core::Config& config = session->config();
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string output = (*vm)["output"].as<std::string>();
    std::string to = one_of("to", vm->count("to") ? (*vm)["to"].as<std::string>() : config.output_format.value_or(""),
                            {"", "pt", "safetensors", "diffusers", "hf"});
    // A checkpoint file's name asks for its container: a folder written under NAME.pt, or a zip under
    // NAME.safetensors, would mislead every reader. Other names take the plugin's target (a folder).
    if (const std::string ext = std::filesystem::path(output).extension().string(); to.empty())
        to = ext == ".safetensors" ? "safetensors" : ext == ".pt" || ext == ".bin" || ext == ".pth" ? "pt" : "";
    const ConversionChoices choices = read_conversion_choices(*vm, config);
    const std::string& dtype = choices.dtype;
    const std::optional<std::string> shard_text =
        vm->count("shard-size") ? (*vm)["shard-size"].as<std::string>() : config.shard_size;
    const uint64_t shard_size = shard_text ? core::parse_byte_size(*shard_text) : 0;

    core::write_outputs_through_cache((*vm)["cached-writes"].as<bool>() || config.cached_writes.value_or(false));
    const bool dry_run = (*vm)["dry-run"].as<bool>();
    const bool force = (*vm)["force"].as<bool>();
    const bool quiet = read_global_options(*vm).quiet;
    const bool show_progress = !quiet && ::isatty(STDERR_FILENO); // a terminal only: logs and pipes stay clean

    if (const core::PipelineFolder pipeline = core::find_pipeline_components(file); !pipeline.components.empty()) {
        if ((*vm)["drop-unsafe"].as<bool>())
            throw core::Error(core::ExitCode::Usage, "--drop-unsafe applies to one checkpoint, not a pipeline folder");
        if ((*vm)["check-master"].as<bool>())
            throw core::Error(core::ExitCode::Usage, "--check-master applies to one DeepSpeed folder, not a pipeline");
        PipelineSettings settings{file, output, to, {}, {}};
        if (vm->count("component")) settings.only = (*vm)["component"].as<std::vector<std::string>>();
        if (vm->count("text-encoder")) settings.text_encoder = (*vm)["text-encoder"].as<std::string>();
        WriteSettings how{shard_size, dry_run, force, quiet, show_progress, {}};
        if (vm->count("report")) how.report = (*vm)["report"].as<std::string>();
        return convert_pipeline(*session, pipeline, choices, settings, how);
    }
    for (const char* flag : {"component", "text-encoder"})
        if (vm->count(flag))
            throw core::Error(core::ExitCode::Usage,
                              std::string("--") + flag + ": " + file + " is not a pipeline folder");

    core::ReadOptions read_options;
    read_options.drop_unsafe = (*vm)["drop-unsafe"].as<bool>();
    read_options.dtype = core::dtype_option_target(dtype);
    read_options.check_master = (*vm)["check-master"].as<bool>();
    read_options.dtype_for_every_tensor = choices.plugin == "none"; // no plan to cast frozen params and buffers
    convert::OpenedInput opened =
        convert::open_input(*session, file, read_options, choices.plugin, choices.format_version, choices.use_rules);
    core::CheckpointIndex& index = opened.index;
    const PluginChoice& chosen = opened.chosen;
    std::vector<std::filesystem::path> inputs;
    for (const auto& f : index.input_files()) inputs.emplace_back(f);

    if (chosen.no_plugin) {
        // A DeepSpeed folder is read in the dtype asked for (its master rounded once): that is a consolidation.
        if ((dtype != "keep" && index.container != "deepspeed") || dry_run || vm->count("report"))
            throw core::Error(core::ExitCode::Usage,
                              "--plugin none copies tensors as they are: --dtype (but for a DeepSpeed folder), "
                              "--dry-run and --report need a plugin");
        core::RecontainerOptions ro;
        ro.to = to.empty() ? "pt" : to;
        ro.output = output;
        ro.shard_size = shard_size;
        ro.force = force;
        core::progress_start(index.tensor_bytes(), show_progress);
        const core::RecontainerResult result = core::recontainer(index, inputs, ro);
        core::progress_finish();
        if (!quiet) {
            std::fprintf(stderr, "ckptconv: %s (%s) -> %s: %llu tensors\n", file.c_str(), index.container.c_str(),
                         ro.to.c_str(), static_cast<unsigned long long>(result.tensors_written));
            for (const auto& n : index.notes) std::fprintf(stderr, "  %s\n", n.c_str());
            for (const auto& f : result.files)
                std::fprintf(stderr, "  wrote %s (%llu bytes)\n", f.path.string().c_str(),
                             static_cast<unsigned long long>(f.bytes));
            for (const auto& [removed, kept] : result.aliases)
                std::fprintf(stderr, "  tied: %s is stored once, as %s\n", removed.c_str(), kept.c_str());
            for (const auto& d : result.dropped_extras)
                std::fprintf(stderr, "  not kept in the pt output (off its allow-list): %s\n", d.c_str());
            for (const auto& d : index.unsafe_dropped)
                std::fprintf(stderr, "  removed by --drop-unsafe: %s\n", d.c_str());
            if (result.extras_not_kept)
                std::fprintf(stderr,
                             "  note: %llu non-tensor entries cannot be stored in safetensors and were left out\n",
                             static_cast<unsigned long long>(result.extras_not_kept));
        }
        return 0;
    }

    std::vector<std::string> unsafe_notes;
    for (const auto& d : index.unsafe_dropped) unsafe_notes.push_back("removed by --drop-unsafe: " + d);
    PreparedConversion conversion(std::move(index), chosen, choices, config, to, file, output);
    auto& notes = conversion.report().notes;
    notes.insert(notes.begin(), unsafe_notes.begin(), unsafe_notes.end());
    if (dry_run) {
        std::fputs(core::plan_text(conversion.index(), conversion.plan()).c_str(), stdout);
        std::fputs(core::report_text(conversion.report()).c_str(), stdout);
        if (vm->count("report")) {
            core::OutputTransaction tx(force, inputs);
            tx.write_text((*vm)["report"].as<std::string>(), core::report_json(conversion.report()).dump(2) + "\n");
            tx.commit();
        }
        return 0;
    }
    core::OutputTransaction tx(force, inputs);
    if (conversion.format() == "diffusers" || conversion.format() == "hf") tx.require_empty_folder(output);
    core::progress_start(conversion.planned_bytes(), show_progress);
    conversion.write(tx, output, shard_size);
    core::progress_finish();
    if (vm->count("report"))
        tx.write_text((*vm)["report"].as<std::string>(), core::report_json(conversion.report()).dump(2) + "\n");
    tx.commit();
    if (!quiet) std::fputs(core::report_text(conversion.report()).c_str(), stderr);
    return 0;
}

} // namespace ckptconv::cli
