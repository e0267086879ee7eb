// Where plugins are looked for, in priority order.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

/** The folder of built-in plugins: <folder of the executable>/../lib/ckptconv/plugins. */
std::filesystem::path builtin_plugin_dir();

/**
 * --plugin-path entries, then the config's plugin_paths, then
 * CKPTCONV_PLUGIN_PATH (colon-separated), then the built-in folder. The
 * first build of an id+version found wins; later copies are reported as
 * duplicates.
 */
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& cli_paths,
                                                      const std::vector<std::filesystem::path>& config_paths);

} // namespace ckptconv::core
