// Each refusal of the plan check, with the keys it must name.
#include "core/plan/PlanBuilder.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

class PlanCheckerTest : public ::testing::Test {
  protected:
    CheckpointIndex index = test::index_from_keys("module", {{"a", {4}}, {"b", {2, 2}}, {"c", {3}}});
    PlanBuilder b{index};
    std::string rejection(bool casts_allowed = false) {
        try {
            check_plan(index, b.plan(), casts_allowed);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ExitCode::PlanRejected);
            return e.what();
        }
        return "";
    }
};

TEST_F(PlanCheckerTest, CompletePlanPasses) {
    b.output("", "a", b.source("module", "a"));
    b.output("", "b", b.source("module", "b"));
    b.drop("module", "c", "unused");
    EXPECT_EQ(rejection(), "");
}

TEST_F(PlanCheckerTest, UnmappedSourcesAreNamed) {
    b.output("", "a", b.source("module", "a"));
    const std::string e = rejection();
    EXPECT_NE(e.find("source tensors neither used nor dropped (2): module/b, module/c"), std::string::npos) << e;
}

TEST_F(PlanCheckerTest, UsedAndDroppedOrDroppedTwice) {
    b.output("", "a", b.source("module", "a"));
    b.drop("module", "a", "x");
    b.drop("module", "b", "x");
    b.drop("module", "b", "y");
    b.drop("module", "c", "z");
    const std::string e = rejection();
    EXPECT_NE(e.find("both used and dropped (1): module/a"), std::string::npos) << e;
    EXPECT_NE(e.find("dropped twice (1): module/b"), std::string::npos) << e;
}

TEST_F(PlanCheckerTest, TargetSpecIsStrict) {
    b.output("", "a", b.source("module", "a"));
    b.output("", "extra", b.source("module", "b"));
    b.drop("module", "c", "unused");
    b.expect("", "a", {5});
    b.expect("", "wanted", {1});
    const std::string e = rejection();
    EXPECT_NE(e.find("outputs the target does not expect (1): extra"), std::string::npos) << e;
    EXPECT_NE(e.find("shape differs from the target (1): a [4] != [5]"), std::string::npos) << e;
    EXPECT_NE(e.find("target tensors missing from the outputs (1): wanted"), std::string::npos) << e;
}

TEST_F(PlanCheckerTest, CastsOnlyWhenAsked) {
    b.output("", "a", b.cast(b.source("module", "a"), DType::F32));
    b.output("", "b", b.source("module", "b"));
    b.drop("module", "c", "unused");
    EXPECT_NE(rejection(false).find("change dtype without --dtype (1): a"), std::string::npos);
    EXPECT_EQ(rejection(true), "");
}

} // namespace
} // namespace ckptconv::core
