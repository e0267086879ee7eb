#include "core/cli/CommandLine.hpp"

#include "core/util/Log.hpp"

#include <iostream>

namespace ckptconv::cli {

po::options_description global_options() {
    po::options_description g("Global options");
    g.add_options()("plugin-path", po::value<std::vector<std::string>>()->composing(),
                    "also look for plugins in DIR (or load this .so); repeatable")(
        "config", po::value<std::string>(), "YAML config: plugin paths, pins, options, output defaults")(
        "verbose,v", po::bool_switch(), "more diagnostics on stderr")(
        "quiet,q", po::bool_switch(), "only errors on stderr")("help,h", po::bool_switch(), "show help");
    return g;
}

GlobalOptions read_global_options(const po::variables_map& vm) {
    GlobalOptions g;
    if (vm.count("plugin-path")) g.session.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
    if (vm.count("config")) g.session.config = vm["config"].as<std::string>();
    g.verbose = vm.count("verbose") && vm["verbose"].as<bool>();
    g.quiet = vm.count("quiet") && vm["quiet"].as<bool>();
    return g;
}

void print_command_help(const CommandSpec& spec) {
    std::cout << "usage: ckptconv " << spec.name << " " << spec.synopsis << "\n\n" << spec.summary << "\n\n";
    po::options_description visible;
    for (const auto& opt : spec.options.options()) {
        const auto& name = opt->long_name();
        if (std::find(spec.hidden.begin(), spec.hidden.end(), name) == spec.hidden.end()) visible.add(opt);
    }
    std::cout << visible << "\n" << global_options();
}

std::optional<po::variables_map> parse_command(const CommandSpec& spec, const std::vector<std::string>& tokens) {
    po::options_description all;
    all.add(spec.options).add(global_options());
    po::variables_map vm;
    po::store(po::command_line_parser(tokens).options(all).positional(spec.positional).run(), vm);
    if (vm["help"].as<bool>()) {
        print_command_help(spec);
        return std::nullopt;
    }
    po::notify(vm);
    return vm;
}

std::unique_ptr<Session> open_session(const po::variables_map& vm) {
    const GlobalOptions g = read_global_options(vm);
    if (g.quiet)
        core::set_log_level(core::LogLevel::Silent);
    else if (g.verbose)
        core::set_log_level(core::LogLevel::Debug);
    return std::make_unique<Session>(g.session);
}

} // namespace ckptconv::cli
