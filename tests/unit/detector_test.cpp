// Score arbitration: threshold, ties, priority.
#include "core/host/Detector.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace ckptconv::core {
namespace {

template <int Score>
int32_t fixed_detect(void*, const ckptconv_host_v1*, ckptconv_call*, const ckptconv_index_v1*,
                     ckptconv_detect_result_v1* out) {
    out->score = Score;
    std::strcpy(out->format_version, "1");
    std::strcpy(out->reason, "fixed");
    return CKPTCONV_OK;
}
int32_t no_plan(void*, const ckptconv_host_v1*, ckptconv_call*, const ckptconv_index_v1*,
                const ckptconv_plan_request_v1*) {
    return CKPTCONV_E_UNSUPPORTED;
}
template <int Score, const char* Id> const ckptconv_plugin_v1* entry() {
    static const ckptconv_plugin_v1 d = {sizeof d, CKPTCONV_ABI_VERSION, Id,       "1.0.0", "", nullptr, nullptr,
                                         nullptr,  &fixed_detect<Score>, &no_plan, nullptr, 0,  nullptr, 0};
    return &d;
}
constexpr char kA[] = "alpha";
constexpr char kB[] = "beta";
constexpr char kC[] = "gamma";

class DetectorTest : public ::testing::Test {
  protected:
    CheckpointIndex index = test::index_from_keys("", {{"w", {1}}});
    AbiIndex abi{index};
    PluginRegistry registry;
    DetectionResult run(const std::vector<std::string>& priority = {}) {
        return detect(registry.select({}), abi, priority);
    }
};

TEST_F(DetectorTest, HighestScoreWins) {
    registry.add_entry(&entry<60, kA>, "builtin:a");
    registry.add_entry(&entry<90, kB>, "builtin:b");
    const auto r = run();
    ASSERT_TRUE(r.selected);
    EXPECT_EQ(r.selected->plugin->id, "beta");
    EXPECT_EQ(r.candidates.front().score, 90);
    EXPECT_EQ(r.candidates.back().score, 60);
}

TEST_F(DetectorTest, TieAtTheTopIsAmbiguousAndListsCandidates) {
    registry.add_entry(&entry<75, kA>, "builtin:a");
    registry.add_entry(&entry<75, kB>, "builtin:b");
    registry.add_entry(&entry<30, kC>, "builtin:c");
    const auto r = run();
    EXPECT_FALSE(r.selected);
    EXPECT_TRUE(r.ambiguous);
    EXPECT_NE(r.problem.find("alpha@1.0.0"), std::string::npos) << r.problem;
    EXPECT_NE(r.problem.find("beta@1.0.0"), std::string::npos) << r.problem;
    EXPECT_EQ(r.problem.find("gamma"), std::string::npos) << r.problem;
}

TEST_F(DetectorTest, PriorityBreaksATie) {
    registry.add_entry(&entry<75, kA>, "builtin:a");
    registry.add_entry(&entry<75, kB>, "builtin:b");
    const auto r = run({"beta"});
    ASSERT_TRUE(r.selected);
    EXPECT_EQ(r.selected->plugin->id, "beta");
}

TEST_F(DetectorTest, AtOrBelowRetryIsNoPluginWithBestGuesses) {
    registry.add_entry(&entry<25, kA>, "builtin:a");
    registry.add_entry(&entry<0, kB>, "builtin:b");
    const auto r = run();
    EXPECT_FALSE(r.selected);
    EXPECT_FALSE(r.ambiguous);
    EXPECT_NE(r.problem.find("no plugin recognises this checkpoint; best guesses: alpha@1.0.0 (score 25"),
              std::string::npos)
        << r.problem;
    EXPECT_EQ(r.problem.find("beta"), std::string::npos);
}

TEST_F(DetectorTest, NoPluginsAtAll) {
    const auto r = run();
    EXPECT_FALSE(r.selected);
    EXPECT_EQ(r.problem, "no plugin recognises this checkpoint");
}

} // namespace
} // namespace ckptconv::core
