// Commands whose engine is not built yet: their options are parsed and
// validated (so scripts can be written against the surface), then they fail
// with exit 1 and say so. Never a fake success.
#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::cli {
namespace {

[[noreturn]] void not_available(const std::string& command) {
    throw core::Error(core::ExitCode::Internal,
                      command + ": not available yet in this build (the conversion engine has not landed)");
}

void check_choice(const po::variables_map& vm, const char* name, std::initializer_list<const char*> allowed) {
    if (!vm.count(name)) return;
    const std::string v = vm[name].as<std::string>();
    for (const char* a : allowed)
        if (v == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw core::Error(core::ExitCode::Usage, std::string("--") + name + " " + v + ": expected one of " + list);
}

} // namespace

int run_convert(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "convert",
        "FILE -o OUT [--plugin ID[@VER]|none] [--format-version V] [--to pt|safetensors|diffusers] "
        "[--dtype keep|fp32|fp16|bf16] [--shard-size 5GB] [--option K=V]... [--dry-run] [--report R.json] [--force]",
        "Detect the checkpoint's family and convert it with the plugin's rules.",
        {},
        {},
        {"file"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "input checkpoint")(
        "output,o", po::value<std::string>()->required(), "output file or folder")(
        "plugin", po::value<std::string>(), "ID[@VERSION] to skip detection, or none for a pure change of container")(
        "format-version", po::value<std::string>(),
        "override the detected format version")("to", po::value<std::string>(), "pt, safetensors or diffusers")(
        "dtype", po::value<std::string>(), "keep (default), fp32, fp16 or bf16")("shard-size", po::value<std::string>(),
                                                                                 "largest safetensors shard, e.g. 5GB")(
        "option", po::value<std::vector<std::string>>()->composing(),
        "plugin option K=V; repeatable")("dry-run", po::bool_switch(), "print the plan and report; write nothing")(
        "report", po::value<std::string>(), "also write the report as JSON here")("force", po::bool_switch(),
                                                                                  "replace an existing output");
    spec.positional.add("file", 1);
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    check_choice(*vm, "to", {"pt", "safetensors", "diffusers"});
    check_choice(*vm, "dtype", {"keep", "fp32", "fp16", "bf16"});
    if (vm->count("option"))
        for (const auto& kv : (*vm)["option"].as<std::vector<std::string>>())
            if (kv.find('=') == std::string::npos || kv.front() == '=')
                throw core::Error(core::ExitCode::Usage, "--option " + kv + ": expected KEY=VALUE");
    not_available("convert");
}

int run_verify(const std::vector<std::string>& tokens) {
    CommandSpec spec{
        "verify", "FILE OUT [--json]", "Re-derive every output of a conversion and compare it byte for byte.", {},
        {},       {"file", "out"}};
    spec.options.add_options()("file", po::value<std::string>()->required(), "input checkpoint")(
        "out", po::value<std::string>()->required(), "what convert wrote")("json", po::bool_switch(),
                                                                           "machine-readable output");
    spec.positional.add("file", 1).add("out", 1);
    if (!parse_command(spec, tokens)) return 0;
    not_available("verify");
}

int run_diff(const std::vector<std::string>& tokens) {
    CommandSpec spec{"diff", "A B [--json]", "Compare two checkpoints: keys, shapes, dtypes and values.", {},
                     {},     {"a", "b"}};
    spec.options.add_options()("a", po::value<std::string>()->required(), "first checkpoint")(
        "b", po::value<std::string>()->required(), "second checkpoint")("json", po::bool_switch(),
                                                                        "machine-readable output");
    spec.positional.add("a", 1).add("b", 1);
    if (!parse_command(spec, tokens)) return 0;
    not_available("diff");
}

} // namespace ckptconv::cli
