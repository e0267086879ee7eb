// Which plugin converts an input: detection, or the user's --plugin / --format-version.
#pragma once

#include "core/convert/Session.hpp"
#include "core/host/Detector.hpp"

#include <optional>
#include <string>

namespace ckptconv::convert {

struct PluginChoice {
    core::DetectionResult detection; ///< every candidate asked (empty when --plugin was given)
    std::optional<core::Candidate> chosen;
    bool no_plugin = false; ///< --plugin none: a pure change of container
};

/**
 * `plugin_spec` is "ID", "ID@RANGE" or "none"; empty means detect. Throws
 * Error(NoPlugin) when nothing (or more than one plugin) fits, naming the
 * candidates; `detection` is still filled for reporting when `report_only`.
 */
PluginChoice choose_plugin(const Session& session, const core::AbiIndex& index, const std::string& plugin_spec,
                           const std::string& format_version, bool report_only = false);

} // namespace ckptconv::convert
