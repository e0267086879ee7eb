#include "core/plan/PlanChecker.hpp"
#include "core/plan/RuleSet.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(RuleSet, DropsRenamesAndSelectsRoots) {
    const CheckpointIndex index =
        test::index_from_keys("module", {{"model.a", {1}}, {"model.attention.w", {2}}, {"cond.x", {3}}});
    RuleSet rules;
    rules.drops.push_back({"cond.", "text encoder"});
    rules.renames.push_back({RuleSet::Rename::Kind::Prefix, "model.", ""});
    rules.renames.push_back({RuleSet::Rename::Kind::Replace, "attention", "attn"});
    rules.output_root = "";
    const Plan plan = plan_from_rules(index, rules);
    ASSERT_EQ(plan.outputs.size(), 2u);
    EXPECT_EQ(plan.outputs[0].key, "a");
    EXPECT_EQ(plan.outputs[1].key, "attn.w");
    EXPECT_EQ(plan.outputs[1].root, "");
    ASSERT_EQ(plan.drops.size(), 1u);
    EXPECT_EQ(plan.drops[0].reason, "text encoder");
    EXPECT_NO_THROW(check_plan(index, plan, false));

    rules.roots = {"elsewhere"};
    const Plan none = plan_from_rules(index, rules);
    EXPECT_TRUE(none.outputs.empty());
    EXPECT_EQ(none.drops[0].reason, "root 'module' not selected by rules.roots");
}

TEST(RuleSet, TwoSourcesRenamedToOneNameAreRefused) {
    const CheckpointIndex index = test::index_from_keys("", {{"a.w", {1}}, {"b.w", {1}}});
    RuleSet rules;
    rules.renames.push_back({RuleSet::Rename::Kind::Regex, "^[ab]\\.", ""});
    try {
        plan_from_rules(index, rules);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::PlanRejected);
        EXPECT_NE(std::string(e.what()).find("rename both 'a.w' and 'b.w' to 'w'"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace ckptconv::core
