// Commands whose engine is not built yet: their options are parsed (so
// scripts can be written against the surface), then they fail with exit 1
// and say so. Never a fake success.
#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::cli {
namespace {

[[noreturn]] void not_available(const std::string& command) {
    throw core::Error(core::ExitCode::Internal,
                      command + ": not available yet in this build (the conversion engine has not landed)");
}

} // namespace

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
