// Where the rules behind a plugin's plan_rules(name) call come from (ABI 1.1).
#pragma once

#include "core/plan/RuleSet.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

struct RuleSource {
    /** A `rules:` section of the user's config: it overrides any shipped file. */
    const RuleSet* user_rules = nullptr;
    /** Folders searched in order for a shipped rule file. */
    std::vector<std::filesystem::path> dirs;

    /**
     * The rules plan_rules(`name`) stands for. `name` must be a plain file name;
     * a missing file, or one without a `rules:` section, is Error(PlanRejected)
     * naming the folders searched.
     */
    RuleSet resolve(const std::string& name) const;
};

/**
 * The rules of a plugin loaded from `plugin_origin`: files are looked up in the plugin's own
 * folder (ckptconv_add_plugin(... RULES file.yaml) puts them there), the built-in plugin folder
 * for statically linked plugins.
 */
RuleSource rule_source_for(const std::string& plugin_origin, const RuleSet* user_rules);

} // namespace ckptconv::core
