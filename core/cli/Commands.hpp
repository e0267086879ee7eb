// One entry point per subcommand; each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace ckptconv::cli {

int run_plugins(const std::vector<std::string>& tokens);
int run_inspect(const std::vector<std::string>& tokens);
int run_detect(const std::vector<std::string>& tokens);
int run_convert(const std::vector<std::string>& tokens);
int run_verify(const std::vector<std::string>& tokens);
int run_diff(const std::vector<std::string>& tokens);

} // namespace ckptconv::cli
