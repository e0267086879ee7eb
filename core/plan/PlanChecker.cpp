#include "core/plan/PlanChecker.hpp"

#include "core/util/Error.hpp"

#include <map>
#include <set>

namespace ckptconv::core {
namespace {

class Problems {
  public:
    void add(const std::string& what, const std::string& key) { items_[what].push_back(key); }
    void raise() const {
        if (items_.empty()) return;
        std::string msg = "plan rejected:";
        for (const auto& [what, keys] : items_) {
            msg += "\n  " + what + " (" + std::to_string(keys.size()) + "): ";
            for (size_t i = 0; i < keys.size() && i < 10; ++i) msg += (i ? ", " : "") + keys[i];
            if (keys.size() > 10) msg += ", ...";
        }
        throw Error(ExitCode::PlanRejected, msg);
    }

  private:
    std::map<std::string, std::vector<std::string>> items_;
};

void collect(const Plan& plan, int64_t expr, std::vector<uint64_t>& out, std::set<uint64_t>& seen) {
    const PlanNode& n = plan.nodes.at(static_cast<size_t>(expr));
    if (n.kind == OpKind::Source) {
        if (seen.insert(n.source_tensor).second) out.push_back(n.source_tensor);
        return;
    }
    for (int64_t in : n.inputs) collect(plan, in, out, seen);
}

} // namespace

std::vector<uint64_t> sources_of(const Plan& plan, int64_t expr) {
    std::vector<uint64_t> out;
    std::set<uint64_t> seen;
    if (expr >= 0) collect(plan, expr, out, seen);
    return out;
}

void check_plan(const CheckpointIndex& index, const Plan& plan, bool casts_allowed) {
    Problems problems;
    std::vector<int> used(index.tensors.size(), 0);
    for (const auto& o : plan.outputs)
        for (uint64_t s : sources_of(plan, o.expr)) ++used[s];
    std::vector<int> dropped(index.tensors.size(), 0);
    for (const auto& d : plan.drops) ++dropped[d.source_tensor];
    for (size_t t = 0; t < index.tensors.size(); ++t) {
        const std::string name = qualified_name(index.roots[index.tensors[t].root].path, index.tensors[t].key);
        if (!used[t] && !dropped[t]) problems.add("source tensors neither used nor dropped", name);
        if (used[t] && dropped[t]) problems.add("source tensors both used and dropped", name);
        if (dropped[t] > 1) problems.add("source tensors dropped twice", name);
    }
    if (!casts_allowed)
        for (const auto& o : plan.outputs) {
            if (o.expr < 0) continue;
            std::vector<int64_t> stack{o.expr};
            while (!stack.empty()) {
                const PlanNode& n = plan.nodes[static_cast<size_t>(stack.back())];
                stack.pop_back();
                if (n.kind == OpKind::Cast) {
                    problems.add("outputs that change dtype without --dtype", qualified_name(o.root, o.key));
                    break;
                }
                stack.insert(stack.end(), n.inputs.begin(), n.inputs.end());
            }
        }
    if (!plan.expected.empty()) {
        std::map<std::string, const PlanExpectation*> expected;
        for (const auto& e : plan.expected) expected[qualified_name(e.root, e.key)] = &e;
        std::set<std::string> produced;
        for (const auto& o : plan.outputs) {
            const std::string name = qualified_name(o.root, o.key);
            produced.insert(name);
            auto it = expected.find(name);
            if (it == expected.end()) {
                problems.add("outputs the target does not expect", name);
                continue;
            }
            const PlanOutput& shaped = o.alias_of ? plan.outputs[*o.alias_of] : o;
            const Shape& shape = plan.nodes.at(static_cast<size_t>(shaped.expr)).shape;
            if (shape != it->second->shape)
                problems.add("outputs whose shape differs from the target",
                             name + " " + shape_text(shape) + " != " + shape_text(it->second->shape));
        }
        for (const auto& [name, e] : expected)
            if (!produced.count(name)) problems.add("target tensors missing from the outputs", name);
    }
    problems.raise();
}

} // namespace ckptconv::core
