// What every front end's commands share: the config and the loaded plugins.
#pragma once

#include "core/host/Config.hpp"
#include "core/host/PluginRegistry.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::convert {

struct SessionOptions {
    std::vector<std::string> plugin_paths; ///< searched before the config's and the built-in ones
    std::optional<std::string> config;     ///< YAML config file
};

class Session {
  public:
    /** Reads the config (if any) and loads plugins from the whole search path. */
    explicit Session(const SessionOptions& options);

    const core::Config& config() const { return config_; }
    const core::PluginRegistry& registry() const { return registry_; }
    const std::vector<std::filesystem::path>& search_path() const { return search_path_; }
    /** The build of each plugin id the config's pins and exclusions select. */
    std::vector<const core::PluginRecord*> selected_plugins() const;

  private:
    core::Config config_;
    core::PluginRegistry registry_;
    std::vector<std::filesystem::path> search_path_;
};

} // namespace ckptconv::convert
