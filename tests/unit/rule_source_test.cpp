// Where plan_rules(name) finds its rules: the user's config first, then the plugin's folder.
#include "core/host/HostCall.hpp"
#include "core/host/RuleSource.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::core {
namespace {

void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string message_of(const RuleSource& source, const std::string& name) {
    try {
        source.resolve(name);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::PlanRejected);
        return e.what();
    }
    return "no error";
}

TEST(RuleSource, ReadsTheShippedFileFromThePluginFolder) {
    test::TempDir dir;
    write(dir / "fam.yaml", "rules:\n  drop:\n    - prefix: \"a.\"\n      reason: \"why\"\n");
    const RuleSource source = rule_source_for((dir / "ckptconv_fam.so").string(), nullptr);
    ASSERT_EQ(source.dirs.size(), 1u);
    const RuleSet rules = source.resolve("fam.yaml");
    ASSERT_EQ(rules.drops.size(), 1u);
    EXPECT_EQ(rules.drops[0].reason, "why");
}

TEST(RuleSource, UserRulesWin) {
    RuleSet mine;
    mine.renames.push_back({RuleSet::Rename::Kind::Prefix, "x.", "y."});
    const RuleSource source = rule_source_for("builtin:fam", &mine);
    EXPECT_EQ(source.resolve("anything.yaml").renames.size(), 1u);
}

TEST(RuleSource, RefusalsNameTheProblem) {
    test::TempDir dir;
    write(dir / "no_rules.yaml", "plugin: fam\n");
    const RuleSource source = rule_source_for((dir / "ckptconv_fam.so").string(), nullptr);
    EXPECT_NE(message_of(source, "missing.yaml").find("'missing.yaml' not found (searched: " + dir.path().string()),
              std::string::npos);
    EXPECT_NE(message_of(source, "no_rules.yaml").find("has no 'rules:' section"), std::string::npos);
    EXPECT_NE(message_of(source, "../fam.yaml").find("must be a plain file name"), std::string::npos);
}

TEST(RuleSource, PlanRulesServiceAppliesThemToTheIndex) {
    const CheckpointIndex index = test::index_from_keys("model", {{"a.w", {2}}, {"b.w", {2}}});
    RuleSet rules;
    rules.drops.push_back({"a.", "not wanted"});
    rules.renames.push_back({RuleSet::Rename::Kind::Prefix, "b.", "c."});
    const RuleSource source = rule_source_for("builtin:fam", &rules);
    PlanBuilder builder(index);
    ckptconv_call call("fam", &builder, &source);
    ASSERT_EQ(host_services()->plan_rules(&call, "fam.yaml"), CKPTCONV_OK) << call.error_message;
    ASSERT_EQ(builder.plan().outputs.size(), 1u);
    EXPECT_EQ(builder.plan().outputs[0].key, "c.w");
    EXPECT_EQ(builder.plan().drops.at(0).reason, "not wanted");

    ckptconv_call without("fam", &builder);
    EXPECT_EQ(host_services()->plan_rules(&without, "fam.yaml"), CKPTCONV_E_PLAN);
}

} // namespace
} // namespace ckptconv::core
