#include "core/convert/Session.hpp"

#include "core/host/PluginSearchPath.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::convert {

Session::Session(const SessionOptions& options) {
    if (options.config) config_ = core::load_config(*options.config);
    search_path_ = core::plugin_search_path(options.plugin_paths, config_.plugin_paths);
    for (const auto& p : search_path_) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec))
            registry_.load_library(p);
        else
            registry_.load_directory(p);
    }
}

std::vector<const core::PluginRecord*> Session::selected_plugins() const {
    try {
        return registry_.select(config_.selection);
    } catch (const core::Error& e) {
        // A pin that matches nothing comes from the config: say which file to edit.
        if (config_.file.empty()) throw;
        throw core::Error(e.code(), config_.file.string() + ": " + e.what());
    }
}

} // namespace ckptconv::convert
