// The user's choices for a conversion (flags over config) and the plan they lead to.
#pragma once

#include "core/convert/PluginChoice.hpp"
#include "core/host/Config.hpp"
#include "core/plan/Plan.hpp"

#include <string>
#include <utility>
#include <vector>

namespace ckptconv::convert {

struct ConversionChoices {
    std::string dtype = "keep"; ///< keep, fp32, fp16 or bf16
    std::vector<std::pair<std::string, std::string>> options;
    std::string plugin;         ///< ID[@RANGE], none, or empty to detect
    std::string format_version; ///< empty: as detected
    bool use_rules = false;     ///< the config's `rules:` are the plan (no --plugin given)
};

/**
 * The plan: the config's rules when `use_rules`, else the chosen plugin's (which gets the
 * config's rules for its plan_rules calls when the user gave both `rules:` and --plugin).
 */
core::Plan plan_conversion(const ConversionChoices& choices, const core::Config& config,
                           const core::CheckpointIndex& index, const core::AbiIndex& abi, const PluginChoice& chosen,
                           const std::string& format);

} // namespace ckptconv::convert
