// Parsing of one subcommand's options together with the global ones.
#pragma once

#include "core/convert/Session.hpp"

#include <boost/program_options.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::cli {

namespace po = boost::program_options;

struct GlobalOptions {
    convert::SessionOptions session;
    bool verbose = false;
    bool quiet = false;
};

using convert::Session;

/** The options every command accepts. */
po::options_description global_options();
/** Reads the global options out of a parsed command line. */
GlobalOptions read_global_options(const po::variables_map& vm);

struct CommandSpec {
    std::string name;
    std::string synopsis; ///< "FILE [--json]"
    std::string summary;  ///< one line
    po::options_description options{"Options"};
    po::positional_options_description positional;
    std::vector<std::string> hidden; ///< names of positional-only options
};

/**
 * Parses `tokens` (everything after the command name). Returns nullopt after
 * printing help when --help was given. Throws po::error on bad usage.
 */
std::optional<po::variables_map> parse_command(const CommandSpec& spec, const std::vector<std::string>& tokens);

/** Applies --verbose/--quiet, then loads the config and plugins. */
std::unique_ptr<Session> open_session(const po::variables_map& vm);

/** Prints "usage: ckptconv <name> <synopsis>" and the options. */
void print_command_help(const CommandSpec& spec);

} // namespace ckptconv::cli
