#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/cli/ConversionChoices.hpp"
#include "core/cli/PluginChoice.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/FileWriter.hpp"
#include "core/io/Recontainer.hpp"
#include "core/io/SafetensorsWriter.hpp"
#include "core/plan/ConversionWriter.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"
#include "core/util/Progress.hpp"

#include <cstdio>
#include <unistd.h>

namespace ckptconv::cli {
namespace {

void write_text_file(core::OutputTransaction& tx, const std::filesystem::path& target, const std::string& text) {
    core::FileWriter out(tx.stage(target).string());
    out.write(text);
    out.close();
}

void refuse_nonempty_folder(const std::filesystem::path& folder, bool force) {
    std::error_code ec;
    if (!force && std::filesystem::exists(folder, ec) &&
        !(std::filesystem::is_directory(folder, ec) && std::filesystem::is_empty(folder, ec)))
        throw core::Error(core::ExitCode::OutputError,
                          folder.string() + ": already exists (pass --force to replace what it holds)");
}

} // namespace

int run_convert(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "convert",
        "FILE -o OUT [--plugin ID[@VER]|none] [--format-version V] [--to pt|safetensors|diffusers] "
        "[--dtype keep|fp32|fp16|bf16] [--shard-size 5GB] [--option K=V]... [--dry-run] [--report R.json] [--force]",
        "Detect the checkpoint's family and convert it with the plugin's rules (--plugin none: only change "
        "the container).",
        {},
        {},
        {"file"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "input checkpoint, shard index or folder")(
        "output,o", po::value<std::string>()->required(), "output file (shards are written beside it)")(
        "plugin", po::value<std::string>(), "ID[@VERSION] to skip detection, or none for a pure change of container")(
        "format-version", po::value<std::string>(), "override the detected format version")(
        "to", po::value<std::string>(), "pt, safetensors or diffusers")("dtype", po::value<std::string>(),
                                                                        "keep (default), fp32, fp16 or bf16")(
        "shard-size", po::value<std::string>(), "largest safetensors shard, e.g. 5GB (decimal, as the Hub)")(
        "option", po::value<std::vector<std::string>>()->composing(),
        "plugin option K=V; repeatable")("dry-run", po::bool_switch(), "print the plan and report; write nothing")(
        "report", po::value<std::string>(), "also write the report as JSON here")("force", po::bool_switch(),
                                                                                  "replace an existing output");
    spec.positional.add("file", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    const core::Config& config = session->config();
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string output = (*vm)["output"].as<std::string>();
    const std::string to =
        one_of("to", vm->count("to") ? (*vm)["to"].as<std::string>() : config.output_format.value_or(""),
               {"", "pt", "safetensors", "diffusers"});
    const ConversionChoices choices = read_conversion_choices(*vm, config);
    const std::string& dtype = choices.dtype;
    const std::optional<std::string> shard_text =
        vm->count("shard-size") ? (*vm)["shard-size"].as<std::string>() : config.shard_size;
    const uint64_t shard_size = shard_text ? core::parse_byte_size(*shard_text) : 0;

    const core::CheckpointIndex index = core::open_checkpoint(file);
    const core::AbiIndex abi(index);
    const bool use_rules = choices.use_rules;
    const PluginChoice chosen =
        use_rules ? PluginChoice{} : choose_plugin(*session, abi, choices.plugin, choices.format_version);
    const bool dry_run = (*vm)["dry-run"].as<bool>();
    const bool force = (*vm)["force"].as<bool>();
    const bool quiet = read_global_options(*vm).quiet;
    const bool show_progress = !quiet && ::isatty(STDERR_FILENO); // a terminal only: logs and pipes stay clean
    std::vector<std::filesystem::path> inputs;
    for (const auto& f : index.files) inputs.emplace_back(f->path());

    if (chosen.no_plugin) {
        if (dtype != "keep" || dry_run || vm->count("report"))
            throw core::Error(
                core::ExitCode::Usage,
                "--plugin none copies tensors as they are: --dtype, --dry-run and --report need a plugin");
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
            for (const auto& f : result.files)
                std::fprintf(stderr, "  wrote %s (%llu bytes)\n", f.path.string().c_str(),
                             static_cast<unsigned long long>(f.bytes));
            for (const auto& [removed, kept] : result.aliases)
                std::fprintf(stderr, "  tied: %s is stored once, as %s\n", removed.c_str(), kept.c_str());
            if (result.extras_not_kept)
                std::fprintf(stderr,
                             "  note: %llu non-tensor entries cannot be stored in safetensors and were left out\n",
                             static_cast<unsigned long long>(result.extras_not_kept));
        }
        return 0;
    }

    const core::Candidate c = use_rules ? core::Candidate{} : *chosen.chosen;
    // The plugin's own target (e.g. diffusers) unless the user chose a container; rules write pt.
    const std::string format =
        !to.empty() ? to : (c.target == "diffusers" || c.target == "safetensors" ? c.target : "pt");
    const core::Plan plan = plan_conversion(choices, config, index, abi, chosen, format);
    core::check_plan(index, plan, dtype != "keep");
    const std::optional<core::DType> cast_to = core::dtype_option_target(dtype);

    core::ConversionReport report;
    report.input = file;
    report.output = output;
    report.plugin = use_rules ? "rules:" + config.file.string() : c.plugin->id;
    report.plugin_version = use_rules ? "" : c.plugin->version;
    report.format_version = c.format_version;
    report.variant = c.variant;
    report.target = plan.target_name.empty() ? format : plan.target_name;
    report.roots = core::count_roots(index, plan);

    if (dry_run) {
        std::fputs(core::plan_text(index, plan).c_str(), stdout);
        std::fputs(core::report_text(report).c_str(), stdout);
        if (vm->count("report")) {
            core::OutputTransaction tx(force, inputs);
            write_text_file(tx, (*vm)["report"].as<std::string>(), core::report_json(report).dump(2) + "\n");
            tx.commit();
        }
        return 0;
    }
    const core::PlanExecutor executor(index, plan, cast_to);
    core::OutputTransaction tx(force, inputs);
    if (format == "diffusers") refuse_nonempty_folder(output, force);
    uint64_t planned = 0;
    for (size_t i = 0; i < plan.outputs.size(); ++i)
        if (!plan.outputs[i].alias_of) planned += executor.nbytes(i);
    core::progress_start(planned, show_progress);
    report.files = core::write_conversion(index, plan, executor, core::ConversionOutput{format, output, shard_size}, tx,
                                          report.notes);
    core::progress_finish();
    if (vm->count("report"))
        write_text_file(tx, (*vm)["report"].as<std::string>(), core::report_json(report).dump(2) + "\n");
    tx.commit();
    if (!quiet) std::fputs(core::report_text(report).c_str(), stderr);
    return 0;
}

} // namespace ckptconv::cli
