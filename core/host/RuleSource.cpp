#include "core/host/RuleSource.hpp"

#include "core/host/Config.hpp"
#include "core/host/PluginSearchPath.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::core {

RuleSet RuleSource::resolve(const std::string& name) const {
    if (user_rules) return *user_rules;
    const std::filesystem::path file(name);
    if (name.empty() || file.has_parent_path() || name == "." || name == "..")
        throw Error(ExitCode::PlanRejected, "rule file name '" + name + "' must be a plain file name");
    std::string searched;
    for (const auto& dir : dirs) {
        const std::filesystem::path candidate = dir / file;
        if (std::filesystem::is_regular_file(candidate)) {
            Config config = load_config(candidate);
            if (!config.rules) throw Error(ExitCode::PlanRejected, candidate.string() + ": has no 'rules:' section");
            return std::move(*config.rules);
        }
        searched += (searched.empty() ? "" : ", ") + dir.string();
    }
    throw Error(ExitCode::PlanRejected, "rule file '" + name + "' not found (searched: " + searched + ")");
}

RuleSource rule_source_for(const std::string& plugin_origin, const RuleSet* user_rules) {
    RuleSource source;
    source.user_rules = user_rules;
    source.dirs.push_back(plugin_origin.rfind("builtin:", 0) == 0 ? builtin_plugin_dir()
                                                                  : std::filesystem::path(plugin_origin).parent_path());
    return source;
}

} // namespace ckptconv::core
