// What a conversion did, per state-dict root: the cut report users know, as text and JSON.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

struct RootReport {
    std::string name; ///< input root path ("" = top level)
    uint64_t total_in = 0;
    uint64_t total_out = 0;
    uint64_t kept = 0;    ///< outputs that are exactly one source tensor, renamed or not
    uint64_t renamed = 0; ///< kept outputs whose key changed (moving to another root alone is not a rename)
    uint64_t dropped = 0;
    uint64_t split = 0;   ///< sources feeding several outputs
    uint64_t fused = 0;   ///< outputs built from several sources
    uint64_t created = 0; ///< outputs from no source
    std::vector<std::pair<std::string, std::string>> renamed_samples;
    std::vector<std::pair<std::string, std::string>> dropped_samples; ///< key, reason
};

struct ReportFile {
    std::filesystem::path path;
    uint64_t tensors = 0;
    uint64_t bytes = 0;
};

struct ConversionReport {
    std::string input;
    std::string output;
    std::string plugin;
    std::string plugin_version;
    std::string format_version;
    std::string variant;
    std::string target;
    std::vector<RootReport> roots;
    std::vector<ReportFile> files;
    std::vector<std::string> notes;
    /// A training save's top-level entries left out, with their category (training-saves.md 5).
    std::vector<std::pair<std::string, std::string>> training_state;
};

/**
 * Counts per input root. An output belongs to the root of its first source;
 * outputs made from no source belong to the first root. Up to `samples`
 * renamed and dropped examples per root.
 */
std::vector<RootReport> count_roots(const CheckpointIndex& index, const Plan& plan, size_t samples = 10);

std::string report_text(const ConversionReport& report);
nlohmann::ordered_json report_json(const ConversionReport& report);

/** The plan, one line per output (source -> ops -> output) and per drop. */
std::string plan_text(const CheckpointIndex& index, const Plan& plan);

} // namespace ckptconv::core
