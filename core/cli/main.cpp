// ckptconv: convert deep-learning checkpoints between layouts through per-family plugins.
#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"
#include "core/util/Error.hpp"
#include "core/util/FaultGuard.hpp"

#include <cstring>
#include <iostream>
#include <map>

#ifndef CKPTCONV_VERSION
#error "CKPTCONV_VERSION must be defined by the build"
#endif

namespace {

using Runner = int (*)(const std::vector<std::string>&);

const std::map<std::string, std::pair<Runner, const char*>>& commands() {
    using namespace ckptconv::cli;
    static const std::map<std::string, std::pair<Runner, const char*>> table{
        {"plugins", {run_plugins, "list plugins and their load status"}},
        {"inspect", {run_inspect, "show containers, roots, extras and tensors of a checkpoint"}},
        {"detect", {run_detect, "score the checkpoint with every plugin and pick one"}},
        {"convert", {run_convert, "convert a checkpoint with the detected plugin's rules"}},
        {"verify", {run_verify, "re-derive a conversion's outputs and compare bytes"}},
        {"diff", {run_diff, "compare two checkpoints"}},
    };
    return table;
}

void print_help() {
    std::cout << "usage: ckptconv [global options] <command> [args]\n\ncommands:\n";
    for (const auto& [name, entry] : commands())
        std::cout << "  " << name << std::string(10 - name.size(), ' ') << entry.second << "\n";
    std::cout << "\n"
              << ckptconv::cli::global_options()
              << "  --version             print the version\n\n"
                 "exit codes: 0 ok, 1 internal, 2 usage, 3 bad input, 4 no plugin or ambiguous,\n"
                 "            5 plan rejected, 6 output error, 7 verify mismatch\n"
                 "`ckptconv <command> --help` shows a command's options.\n";
}

// The command is the first token that is neither an option nor the value of a global option.
size_t find_command(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--plugin-path" || a == "--config") {
            ++i;
            continue;
        }
        if (a.empty() || a[0] != '-') return i;
    }
    return args.size();
}

} // namespace

int main(int argc, char** argv) {
    using ckptconv::core::Error;
    using ckptconv::core::ExitCode;
    const std::vector<std::string> args(argv + 1, argv + argc);
    ckptconv::core::install_fault_handlers();
    try {
        const size_t at = find_command(args);
        if (at == args.size()) {
            for (const auto& a : args) {
                if (a == "--version") {
                    std::cout << "ckptconv " << CKPTCONV_VERSION << " (plugin ABI " << CKPTCONV_ABI_MAJOR << "."
                              << CKPTCONV_ABI_MINOR << ")\n";
                    return 0;
                }
                if (a == "--help" || a == "-h") {
                    print_help();
                    return 0;
                }
            }
            print_help();
            return static_cast<int>(ExitCode::Usage);
        }
        const auto it = commands().find(args[at]);
        if (it == commands().end())
            throw Error(ExitCode::Usage, "unknown command '" + args[at] + "' (see ckptconv --help)");
        std::vector<std::string> rest(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
        rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(at) + 1, args.end());
        return it->second.first(rest);
    } catch (const Error& e) {
        std::cerr << "ckptconv: error: " << e.what() << "\n";
        return static_cast<int>(e.code());
    } catch (const boost::program_options::error& e) {
        std::cerr << "ckptconv: usage error: " << e.what() << " (see --help)\n";
        return static_cast<int>(ExitCode::Usage);
    } catch (const std::exception& e) {
        std::cerr << "ckptconv: internal error: " << e.what() << "\n";
        return static_cast<int>(ExitCode::Internal);
    }
}
