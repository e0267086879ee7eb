#include "core/convert/PluginChoice.hpp"

#include "core/util/Error.hpp"
#include "core/util/Text.hpp"

#include <algorithm>

namespace ckptconv::convert {
namespace {

/** --format-version V on the chosen candidate; V must be one the plugin declares (when it declares any). */
void force_format_version(const core::PluginRecord& plugin, core::Candidate& c, const std::string& format_version) {
    if (format_version.empty()) return;
    const auto& known = plugin.format_versions;
    if (!known.empty() && std::find(known.begin(), known.end(), format_version) == known.end()) {
        throw core::Error(core::ExitCode::Usage, "--format-version " + format_version + ": plugin " + plugin.label() +
                                                     " has rules for " + core::join(known));
    }
    c.format_version = format_version;
}

} // namespace

PluginChoice choose_plugin(const Session& session, const core::AbiIndex& index, const std::string& plugin_spec,
                           const std::string& format_version, bool report_only) {
    PluginChoice choice;
    if (plugin_spec == "none") {
        choice.no_plugin = true;
        return choice;
    }
    if (!plugin_spec.empty()) {
        const size_t at = plugin_spec.find('@');
        const std::string id = plugin_spec.substr(0, at);
        const std::string range = at == std::string::npos ? "" : plugin_spec.substr(at + 1);
        const core::PluginRecord* plugin = nullptr;
        try {
            plugin = session.registry().find(id, range);
        } catch (const std::invalid_argument& e) {
            throw core::Error(core::ExitCode::Usage, "--plugin " + plugin_spec + ": " + e.what());
        }
        if (!plugin) {
            std::string found;
            for (const auto& r : session.registry().records())
                if (r->id == id && r->loaded()) found += (found.empty() ? "" : ", ") + r->version;
            throw core::Error(core::ExitCode::NoPlugin,
                              "--plugin " + plugin_spec + ": no loaded plugin matches (" +
                                  (found.empty() ? "no build of '" + id + "' loaded" : "found " + found) +
                                  "); see `ckptconv plugins`");
        }
        core::Candidate c = core::run_detect(*plugin, index);
        choice.detection.candidates.push_back(c);
        std::string problem;
        if (!c.error.empty())
            problem = "plugin " + plugin->label() + ": detect failed: " + c.error;
        else if (format_version.empty() && c.score <= CKPTCONV_SCORE_RETRY)
            problem = "plugin " + plugin->label() + " does not recognise this checkpoint (score " +
                      std::to_string(c.score) + ": " + c.reason + "); pass --format-version to force it";
        if (!problem.empty()) {
            choice.detection.problem = problem;
            if (report_only) return choice;
            throw core::Error(core::ExitCode::NoPlugin, problem);
        }
        force_format_version(*plugin, c, format_version);
        choice.detection.selected = c;
        choice.chosen = c;
        return choice;
    }
    choice.detection = core::detect(session.selected_plugins(), index, session.config().priority);
    if (!choice.detection.selected) {
        if (report_only) return choice;
        throw core::Error(core::ExitCode::NoPlugin, choice.detection.problem);
    }
    choice.chosen = choice.detection.selected;
    force_format_version(*choice.chosen->plugin, *choice.chosen, format_version);
    return choice;
}

} // namespace ckptconv::convert
