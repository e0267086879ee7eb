#include "core/host/PluginSearchPath.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <sstream>

namespace ckptconv::core {

std::filesystem::path builtin_plugin_dir() {
    const std::filesystem::path exe = boost::dll::program_location().string();
    return (exe.parent_path() / ".." / "lib" / "ckptconv" / "plugins").lexically_normal();
}

std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& cli_paths,
                                                      const std::vector<std::filesystem::path>& config_paths) {
    std::vector<std::filesystem::path> out(cli_paths.begin(), cli_paths.end());
    out.insert(out.end(), config_paths.begin(), config_paths.end());
    if (const char* env = std::getenv("CKPTCONV_PLUGIN_PATH")) {
        std::stringstream ss(env);
        for (std::string item; std::getline(ss, item, ':');)
            if (!item.empty()) out.emplace_back(item);
    }
    out.push_back(builtin_plugin_dir());
    return out;
}

} // namespace ckptconv::core
