#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/cli/ConversionFlags.hpp"
#include "core/convert/OpenedInput.hpp"
#include "core/convert/PipelineConversion.hpp"
#include "core/convert/PluginChoice.hpp"
#include "core/io/CheckpointFolder.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/ConfigProvenance.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace ckptconv::cli {

using convert::PipelineSettings;
using convert::PlannedPipeline;
using convert::PluginChoice;
using convert::PreparedConversion;
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

// What OUT must hold: tensor name -> dtype, shape and a producer of the bytes.
struct ExpectedTensor {
    core::DType dtype;
    core::Shape shape;
    std::function<std::string()> bytes;
};
using ExpectedTensors = std::map<std::string, ExpectedTensor>;

ExpectedTensors expected_from_plan(const core::Plan& plan, const core::PlanExecutor& executor,
                                   const std::string& format) {
    ExpectedTensors expected;
    std::set<std::string> roots;
    for (const auto& o : plan.outputs) roots.insert(o.root);
    for (size_t i = 0; i < plan.outputs.size(); ++i) {
        const auto& o = plan.outputs[i];
        const std::string name = format == "pt" || roots.size() > 1 ? core::dotted_name(o.root, o.key) : o.key;
        const core::PlanExecutor* ex = &executor;
        expected[name] = {executor.dtype(i), executor.shape(i), [ex, i] { return ex->bytes(i); }};
    }
    return expected;
}

struct Findings {
    size_t checked = 0;
    std::vector<std::string> missing, unexpected, different;
    /// What each written file records about its making (its "ckptconv.*" metadata), by component label.
    std::map<std::string, std::map<std::string, std::string>> produced_by;
    bool ok() const { return missing.empty() && unexpected.empty() && different.empty(); }
};

// Compares the tensors of `written_path` with `expected`; names in findings get `label` in front.
void compare_tensors(const ExpectedTensors& expected, const std::string& written_path, const std::string& format,
                     const std::string& label, Findings& findings) {
    const core::CheckpointIndex written = core::open_checkpoint(written_path);
    for (const auto& [key, value] : written.metadata)
        if (key.rfind("ckptconv.", 0) == 0) findings.produced_by[label][key] = value;
    std::map<std::string, const core::IndexedTensor*> actual;
    for (const auto& t : written.tensors) actual[name_in(format, written, t)] = &t;
    // Tied names recorded by our safetensors writer point at the tensor written once.
    for (const auto& [removed, kept] : written.metadata)
        if (removed != "format" && actual.count(kept) && !actual.count(removed)) actual[removed] = actual[kept];
    for (const auto& [name, e] : expected) {
        ++findings.checked;
        auto it = actual.find(name);
        if (it == actual.end()) {
            findings.missing.push_back(label + name);
            continue;
        }
        const core::IndexedTensor& t = *it->second;
        std::string scratch;
        if (t.info->dtype != e.dtype || t.info->shape != e.shape ||
            core::tensor_bytes(written, *t.info, scratch) != e.bytes())
            findings.different.push_back(label + name);
    }
    for (const auto& [name, t] : actual)
        if (!expected.count(name)) findings.unexpected.push_back(label + name);
}

// The plan's extra files (config.json, model_index.json, scheduler config) must be in OUT as planned.
// `label` is OUT's subfolder the plan wrote into ("" when its paths start at OUT).
void compare_files(const core::Plan& plan, const std::filesystem::path& out, Findings& findings,
                   const std::string& label = "") {
    for (const auto& f : plan.files) {
        ++findings.checked;
        std::ifstream in(out / label / f.path, std::ios::binary);
        if (!in) {
            findings.missing.push_back(label + f.path);
            continue;
        }
        const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        // The provenance convert added to a diffusers config is not the plugin's: compare what the plugin wrote.
        if (core::split_config_provenance(content).config != f.content) findings.different.push_back(label + f.path);
    }
}

// Files convert copied unchanged must equal their sources byte for byte.
void compare_copies(const std::vector<convert::CopiedFile>& copies, const std::filesystem::path& out,
                    Findings& findings) {
    std::vector<char> a(1 << 20), b(1 << 20);
    for (const auto& c : copies) {
        ++findings.checked;
        std::ifstream source(c.source, std::ios::binary), written(out / c.target, std::ios::binary);
        if (!written) {
            findings.missing.push_back(c.target);
            continue;
        }
        bool same = true;
        while (same && (source || written)) {
            source.read(a.data(), static_cast<std::streamsize>(a.size()));
            written.read(b.data(), static_cast<std::streamsize>(b.size()));
            same = source.gcount() == written.gcount() && std::equal(a.begin(), a.begin() + source.gcount(), b.begin());
        }
        if (!same) findings.different.push_back(c.target);
    }
}

// verify on a pipeline folder: every component re-planned as convert planned it, compared with OUT/<component>.
Findings verify_pipeline(const Session& session, const core::PipelineFolder& folder, const ConversionChoices& choices,
                         const std::string& file, const std::string& out, const std::vector<std::string>& only,
                         const std::optional<std::string>& text_encoder) {
    PipelineSettings settings;
    settings.folder = file;
    settings.output = out;
    settings.only = only;
    if (text_encoder) settings.text_encoder = *text_encoder;
    const PlannedPipeline planned = convert::plan_pipeline(session, folder, choices, settings);
    Findings findings;
    for (const auto& c : planned.conversions) {
        const std::string component = c->plan().component_dir;
        compare_tensors(expected_from_plan(c->plan(), c->executor(), "diffusers"),
                        (std::filesystem::path(out) / component).string(), "diffusers", component + "/", findings);
        compare_files(c->plan(), out, findings);
    }
    if (const auto& t5 = planned.text_encoder) {
        compare_tensors(expected_from_plan(t5->plan(), t5->executor(), "diffusers"),
                        (std::filesystem::path(out) / "text_encoder").string(), "diffusers", "text_encoder/", findings);
        compare_files(t5->plan(), out, findings, "text_encoder/");
        compare_copies(t5->copied(), out, findings);
    }
    return findings;
}

} // namespace

int run_verify(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "verify",
        "FILE OUT [--json] [--plugin ID[@VER]|none] [--format-version V] [--dtype D] [--option K=V]... "
        "[--component NAME]... [--text-encoder DIR] [--drop-unsafe]",
        "Re-derive every output of a conversion from FILE (a checkpoint or a pipeline folder) and compare it "
        "byte for byte with OUT, tensors and written files alike.",
        {},
        {},
        {"file", "out"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "the input that was converted")(
        "out", po::value<std::string>()->required(),
        "what convert wrote (file, shard index or folder)")("json", po::bool_switch(), "machine-readable output")(
        "plugin", po::value<std::string>(),
        "as given to convert")("format-version", po::value<std::string>(),
                               "as given to convert")("dtype", po::value<std::string>(), "as given to convert")(
        "option", po::value<std::vector<std::string>>()->composing(), "as given to convert")(
        "component", po::value<std::vector<std::string>>()->composing(), "as given to convert (pipeline folders)")(
        "text-encoder", po::value<std::string>(), "as given to convert (pipeline folders)")(
        "drop-unsafe", po::bool_switch(), "as given to convert (a sanitized conversion)");
    spec.positional.add("file", 1).add("out", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    const std::string file = (*vm)["file"].as<std::string>();
    const std::string out = (*vm)["out"].as<std::string>();
    const ConversionChoices choices = read_conversion_choices(*vm, session->config());

    const std::vector<std::string> only =
        vm->count("component") ? (*vm)["component"].as<std::vector<std::string>>() : std::vector<std::string>{};
    Findings findings;
    if (const core::PipelineFolder pipeline = core::find_pipeline_components(file); !pipeline.components.empty()) {
        std::optional<std::string> text_encoder;
        if (vm->count("text-encoder")) text_encoder = (*vm)["text-encoder"].as<std::string>();
        findings = verify_pipeline(*session, pipeline, choices, file, out, only, text_encoder);
    } else {
        if (!only.empty() || vm->count("text-encoder"))
            throw core::Error(core::ExitCode::Usage,
                              "--component, --text-encoder: " + file + " is not a pipeline folder");
        core::ReadOptions read_options;
        read_options.drop_unsafe = (*vm)["drop-unsafe"].as<bool>();
        read_options.dtype = core::dtype_option_target(choices.dtype); // a DeepSpeed folder's copy, as convert read it
        read_options.dtype_for_every_tensor = choices.plugin == "none";
        const convert::OpenedInput opened = convert::open_input(*session, file, read_options, choices.plugin,
                                                                choices.format_version, choices.use_rules);
        const core::CheckpointIndex& index = opened.index;
        const core::AbiIndex abi(index);
        const PluginChoice& chosen = opened.chosen;
        if (chosen.no_plugin) {
            const std::string format = locate(out, "").first;
            ExpectedTensors expected;
            for (const auto& t : index.tensors)
                expected[name_in(format, index, t)] = {t.info->dtype, t.info->shape, [&index, &t] {
                                                           std::string scratch;
                                                           return std::string(
                                                               core::tensor_bytes(index, *t.info, scratch));
                                                       }};
            compare_tensors(expected, locate(out, "").second, format, "", findings);
        } else {
            const core::Plan plan = plan_conversion(choices, session->config(), index, abi, chosen, "diffusers");
            const auto [format, tensors_at] = locate(out, plan.component_dir);
            const core::PlanExecutor executor(index, plan, core::dtype_option_target(choices.dtype));
            compare_tensors(expected_from_plan(plan, executor, format), tensors_at, format, "", findings);
            if (format == "diffusers") compare_files(plan, out, findings);
        }
    }
    const bool ok = findings.ok();
    if ((*vm)["json"].as<bool>()) {
        nlohmann::ordered_json j{{"file", file},
                                 {"output", out},
                                 {"checked", findings.checked},
                                 {"ok", ok},
                                 {"missing", findings.missing},
                                 {"unexpected", findings.unexpected},
                                 {"different", findings.different},
                                 {"produced_by", findings.produced_by}};
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s: %zu tensors and files checked against %s: %s\n", out.c_str(), findings.checked, file.c_str(),
                    ok ? "identical" : "MISMATCH");
        for (const auto& n : findings.missing) std::printf("  missing:    %s\n", n.c_str());
        for (const auto& n : findings.unexpected) std::printf("  unexpected: %s\n", n.c_str());
        for (const auto& n : findings.different) std::printf("  different:  %s\n", n.c_str());
        for (const auto& [label, p] : findings.produced_by) {
            auto field = [&p = p](const char* key) {
                const auto it = p.find(std::string("ckptconv.") + key);
                return it == p.end() ? std::string("?") : it->second;
            };
            std::printf("  made by:    %sckptconv %s, plugin %s (format %s, variant %s, options %s) from %s\n",
                        label.c_str(), field("version").c_str(), field("plugin").c_str(),
                        field("source_format").c_str(), field("variant").c_str(), field("options").c_str(),
                        field("sources").c_str());
        }
    }
    return ok ? 0 : static_cast<int>(core::ExitCode::VerifyMismatch);
}

} // namespace ckptconv::cli
