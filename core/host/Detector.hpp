// Runs every selected plugin's detect() on an index and picks one, FFmpeg-style.
#pragma once

#include "core/host/AbiIndex.hpp"
#include "core/host/PluginRegistry.hpp"

#include <string>
#include <vector>

namespace ckptconv::core {

struct Candidate {
    const PluginRecord* plugin = nullptr;
    int32_t score = 0;
    std::string format_version;
    std::string variant;
    std::string target;
    std::string reason;
    std::string error; ///< detect() failed: the plugin's message; score is then 0
};

struct DetectionResult {
    std::vector<Candidate> candidates; ///< every plugin asked, highest score first
    std::optional<Candidate> selected; ///< the winner, if there is exactly one above the threshold
    std::string problem;               ///< why there is none: "ambiguous: ..." or "no plugin recognises ..."
    bool ambiguous = false;
};

/** Calls one plugin's detect(), catching anything it throws. */
Candidate run_detect(const PluginRecord& plugin, const AbiIndex& index);

/**
 * Asks every plugin; the highest score above CKPTCONV_SCORE_RETRY wins. A tie
 * at the top is ambiguous unless `priority` (ids, first wins) breaks it.
 */
DetectionResult detect(const std::vector<const PluginRecord*>& plugins, const AbiIndex& index,
                       const std::vector<std::string>& priority = {});

} // namespace ckptconv::core
