// Asks the chosen plugin for its plan, recorded through the host services.
#pragma once

#include "core/host/AbiIndex.hpp"
#include "core/host/Detector.hpp"
#include "core/plan/Plan.hpp"
#include "core/plan/RuleSet.hpp"

#include <string>
#include <utility>
#include <vector>

namespace ckptconv::core {

/**
 * Runs `candidate.plugin`'s plan() for its (possibly forced) format version.
 * A refusal becomes Error(PlanRejected) carrying the plugin's message; an
 * exception or crash-like status becomes Error(Internal). `user_rules` (a
 * config's `rules:`) replace the rule file a plugin asks for with plan_rules.
 */
Plan plan_with_plugin(const CheckpointIndex& index, const AbiIndex& abi, const Candidate& candidate,
                      const std::string& output_format, const std::vector<std::pair<std::string, std::string>>& options,
                      const RuleSet* user_rules = nullptr);

} // namespace ckptconv::core
