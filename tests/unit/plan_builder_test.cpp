#include "core/plan/PlanBuilder.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

class PlanBuilderTest : public ::testing::Test {
  protected:
    CheckpointIndex index =
        test::index_from_keys("module", {{"qkv.weight", {12, 4}}, {"qkv.bias", {12}}, {"emb", {10, 4}}});
    PlanBuilder b{index};
    const Shape& shape(int64_t x) { return b.plan().nodes[static_cast<size_t>(x)].shape; }
};

TEST_F(PlanBuilderTest, ShapesFlowThroughEveryOp) {
    const int64_t w = b.source("module", "qkv.weight");
    EXPECT_EQ(shape(b.chunk(w, 3, 1, 0)), (Shape{4, 4}));
    EXPECT_EQ(shape(b.cat({w, w}, -1)), (Shape{12, 8}));
    EXPECT_EQ(shape(b.narrow(w, 0, 4, 4)), (Shape{4, 4}));
    EXPECT_EQ(shape(b.pad(w, 0, 16)), (Shape{16, 4}));
    EXPECT_EQ(shape(b.reshape(w, {3, 4, 4})), (Shape{3, 4, 4}));
    EXPECT_EQ(shape(b.permute(w, {1, 0})), (Shape{4, 12}));
    const int64_t c = b.cast(w, DType::F32);
    EXPECT_EQ(b.plan().nodes[static_cast<size_t>(c)].dtype, DType::F32);
    EXPECT_EQ(shape(b.zeros({1, 4}, DType::F16)), (Shape{1, 4}));
    EXPECT_EQ(shape(b.constant({2}, DType::I64, std::string(16, '\0'))), (Shape{2}));
}

TEST_F(PlanBuilderTest, RefusalsNameWhatIsWrong) {
    const int64_t w = b.source("module", "qkv.weight");
    const int64_t bias = b.source("module", "qkv.bias");
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const PlanOpError& e) {
            return std::string(e.what());
        }
        return std::string("<accepted>");
    };
    EXPECT_NE(message([&] { b.source("module", "nope"); }).find("no source tensor 'nope' in root 'module'"),
              std::string::npos);
    EXPECT_NE(message([&] { b.chunk(w, 5, 0, 0); }).find("does not split into 5"), std::string::npos);
    EXPECT_NE(message([&] { b.chunk(w, 3, 3, 0); }).find("out of range"), std::string::npos);
    EXPECT_NE(message([&] { b.cat({w, bias}, 0); }).find("ranks differ"), std::string::npos);
    EXPECT_NE(message([&] { b.narrow(w, 0, 10, 4); }).find("outside dimension 0"), std::string::npos);
    EXPECT_NE(message([&] { b.reshape(w, {5, 5}); }).find("cannot become [5, 5]"), std::string::npos);
    EXPECT_NE(message([&] { b.permute(w, {0, 0}); }).find("not a permutation"), std::string::npos);
    EXPECT_NE(message([&] { b.chunk(w, 3, 0, 2); }).find("dimension 2 out of range"), std::string::npos);
    EXPECT_NE(message([&] { b.constant({2}, DType::F32, "abc"); }).find("3 bytes given"), std::string::npos);
    EXPECT_NE(message([&] { b.drop("module", "emb", ""); }).find("needs a reason"), std::string::npos);
    EXPECT_NE(message([&] { b.file("../escape.json", "{}"); }).find("must be relative"), std::string::npos);
}

TEST_F(PlanBuilderTest, OutputsAliasesDropsAndFiles) {
    const int64_t w = b.source("module", "qkv.weight");
    b.output("model", "q", b.chunk(w, 3, 0, 0));
    EXPECT_THROW(b.output("model", "q", w), PlanOpError);
    EXPECT_THROW(b.alias("model", "tied", "model", "missing"), PlanOpError);
    b.alias("model", "tied", "model", "q");
    b.drop("module", "emb", "unused position table");
    b.file("transformer/config.json", "{}\n");
    EXPECT_THROW(b.file("transformer/config.json", "{}\n"), PlanOpError);
    b.target("diffusers", "transformer");
    const Plan& p = b.plan();
    ASSERT_EQ(p.outputs.size(), 2u);
    EXPECT_EQ(*p.outputs[1].alias_of, 0u);
    ASSERT_EQ(p.drops.size(), 1u);
    EXPECT_EQ(index.tensors[p.drops[0].source_tensor].key, "emb");
    EXPECT_EQ(p.component_dir, "transformer");
}

TEST_F(PlanBuilderTest, AddLoraTakesTheWeightsShapeAndRefusesMatricesThatDoNotFit) {
    const int64_t w = b.chunk(b.source("module", "qkv.weight"), 3, 0, 0); // [4, 4]
    const int64_t a = b.narrow(b.source("module", "emb"), 0, 0, 2);       // [2, 4]: r = 2
    const int64_t bt = b.permute(a, {1, 0});                              // [4, 2]
    const int64_t m = b.add_lora(w, a, bt, 0.5);
    EXPECT_EQ(shape(m), (Shape{4, 4}));
    EXPECT_EQ(b.plan().nodes[static_cast<size_t>(m)].dtype, DType::F16);
    EXPECT_THROW(b.add_lora(w, bt, a, 0.5), PlanOpError); // A and B swapped
    EXPECT_THROW(b.add_lora(w, a, bt, 0.0), PlanOpError);
}

} // namespace
} // namespace ckptconv::core
