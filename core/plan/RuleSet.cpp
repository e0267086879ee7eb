#include "core/plan/RuleSet.hpp"

#include "core/plan/PlanBuilder.hpp"
#include "core/util/Error.hpp"

#include <ckptconv/sdk.hpp>

#include <algorithm>
#include <map>

namespace ckptconv::core {

void add_rules(PlanBuilder& b, const RuleSet& rules) {
    const CheckpointIndex& index = b.index();
    sdk::RenameTable table;
    for (const auto& r : rules.renames) {
        switch (r.kind) {
        case RuleSet::Rename::Kind::Prefix: table.prefix(r.from, r.to); break;
        case RuleSet::Rename::Kind::Replace: table.replace(r.from, r.to); break;
        case RuleSet::Rename::Kind::Regex: table.regex(r.from, r.to); break;
        }
    }
    std::map<std::string, std::string> produced_from; // output -> source, to name collisions
    for (const auto& t : index.tensors) {
        const std::string& root = index.roots[t.root].path;
        if (!rules.roots.empty() && std::find(rules.roots.begin(), rules.roots.end(), root) == rules.roots.end()) {
            b.drop(root, t.key, "root '" + root + "' not selected by rules.roots");
            continue;
        }
        const auto drop = std::find_if(rules.drops.begin(), rules.drops.end(), [&](const RuleSet::Drop& d) {
            return t.key.compare(0, d.prefix.size(), d.prefix) == 0;
        });
        if (drop != rules.drops.end()) {
            b.drop(root, t.key, drop->reason);
            continue;
        }
        const std::string out_root = rules.output_root.value_or(root);
        const std::string name = table.apply(t.key);
        const std::string qualified = out_root + "/" + name;
        if (auto [it, fresh] = produced_from.emplace(qualified, t.key); !fresh)
            throw Error(ExitCode::PlanRejected,
                        "rules rename both '" + it->second + "' and '" + t.key + "' to '" + name + "'");
        b.output(out_root, name, b.source(root, t.key));
    }
}

Plan plan_from_rules(const CheckpointIndex& index, const RuleSet& rules) {
    PlanBuilder b(index);
    add_rules(b, rules);
    b.target("rules", "");
    return b.take();
}

} // namespace ckptconv::core
