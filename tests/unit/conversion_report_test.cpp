// The report's counts follow their definitions exactly.
#include "core/plan/PlanBuilder.hpp"
#include "core/report/ConversionReport.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(ConversionReport, CountsKeptRenamedDroppedSplitFusedCreated) {
    const CheckpointIndex index = test::index_from_keys(
        "module", {{"same", {2}}, {"old", {2}}, {"qkv", {6}}, {"p1", {2}}, {"p2", {2}}, {"junk", {1}}});
    PlanBuilder b(index);
    b.output("", "same", b.source("module", "same")); // kept
    b.output("", "new", b.source("module", "old"));   // kept + renamed
    const int64_t qkv = b.source("module", "qkv");
    for (int i = 0; i < 3; ++i) b.output("", "part" + std::to_string(i), b.chunk(qkv, 3, i, 0)); // qkv is split
    b.output("", "fused", b.cat({b.source("module", "p1"), b.source("module", "p2")}, 0));       // fused
    b.output("", "made", b.zeros({1}, DType::F16));                                              // created
    b.alias("", "tied", "", "same"); // kept (alias of a kept source)
    b.drop("module", "junk", "not needed");
    const auto rows = count_roots(index, b.plan(), 1);
    ASSERT_EQ(rows.size(), 1u);
    const RootReport& r = rows[0];
    EXPECT_EQ(r.name, "module");
    EXPECT_EQ(r.total_in, 6u);
    EXPECT_EQ(r.total_out, 8u);
    EXPECT_EQ(r.kept, 3u);
    EXPECT_EQ(r.renamed, 2u); // "old" -> "new", and "same" -> "tied"
    EXPECT_EQ(r.dropped, 1u);
    EXPECT_EQ(r.split, 2u); // qkv feeds three outputs; "same" feeds itself and its alias
    EXPECT_EQ(r.fused, 1u);
    EXPECT_EQ(r.created, 1u);
    ASSERT_EQ(r.renamed_samples.size(), 1u); // capped at the sample limit
    EXPECT_EQ(r.dropped_samples[0], std::make_pair(std::string("junk"), std::string("not needed")));

    ConversionReport report;
    report.roots = rows;
    const auto j = report_json(report);
    EXPECT_EQ(j["roots"][0]["split"], 2);
    EXPECT_EQ(j["roots"][0]["dropped_samples"][0][1], "not needed");
    EXPECT_NE(report_text(report).find(
                  "[module] total_in=6 total_out=8 kept=3 dropped=1 renamed=2 split=2 fused=1 created=1"),
              std::string::npos);
}

} // namespace
} // namespace ckptconv::core
