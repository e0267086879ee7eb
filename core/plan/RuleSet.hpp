// Conversion rules as data (a config's `rules:` section): cuts and renames with no plugin code.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ckptconv::core {

class PlanBuilder;

struct RuleSet {
    struct Drop {
        std::string prefix;
        std::string reason;
    };
    struct Rename {
        enum class Kind { Prefix, Replace, Regex } kind = Kind::Prefix;
        std::string from;
        std::string to;
    };
    std::vector<std::string> roots;         ///< input roots to convert; empty = every root
    std::vector<Drop> drops;                ///< keys starting with a prefix are dropped, with the reason
    std::vector<Rename> renames;            ///< applied in order, each to the result of the previous
    std::optional<std::string> output_root; ///< default: each tensor stays in its input root's path
};

/**
 * The plan a rule set describes: tensors of unselected roots are dropped
 * ("root not selected"), dropped prefixes are dropped with their reason,
 * every other tensor is renamed and kept, and non-tensor entries are kept.
 * Two tensors renamed to one name is a plan error naming both.
 */
Plan plan_from_rules(const CheckpointIndex& index, const RuleSet& rules);

/** Records the rule set's drops and outputs into `builder` (a plugin's plan_rules call). */
void add_rules(PlanBuilder& builder, const RuleSet& rules);

} // namespace ckptconv::core
