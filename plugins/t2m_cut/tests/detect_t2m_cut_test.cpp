// Fingerprinting of text-to-motion checkpoints: the committed fixtures and metadata-only indexes.
#include "../detect_t2m_cut.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace t2m_cut {
namespace {

ckptconv::sdk::Detection detect(const ckptconv::core::CheckpointIndex& index) {
    const ckptconv::core::AbiIndex abi(index);
    return detect_t2m_cut(ckptconv::sdk::IndexView(abi.view()));
}

ckptconv::sdk::Detection detect_keys(const std::vector<std::string>& keys) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> shaped;
    for (const auto& k : keys) shaped.push_back({k, {4}});
    return detect(ckptconv::test::index_from_keys("model", shaped));
}

TEST(DetectT2mCut, TwoRootFixtureIsCertainWithBlockCounts) {
    const auto d = detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("t2m_cut/t2m_two_roots.pt")));
    EXPECT_EQ(d.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(d.format_version, "1.0");
    EXPECT_EQ(d.variant, "default");
    EXPECT_NE(d.reason.find("24-block T5, 6-block ELLA"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("model_ema (220 t5_encoder.model.*, 69 ella_model.*)"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("encoder (220"), std::string::npos) << d.reason;
}

TEST(DetectT2mCut, PrefixesWithoutAnchorsArePlausibleOnly) {
    const auto d = detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("t2m_cut/prefixes_only.pt")));
    EXPECT_EQ(d.score, CKPTCONV_SCORE_PLAUSIBLE);
    EXPECT_TRUE(d.format_version.empty());
}

TEST(DetectT2mCut, NeedsBothParts) {
    const std::string t5 = "t5_encoder.model.encoder.block.0.layer.0.SelfAttention.q.weight";
    const std::string ella = "ella_model.connector.latents";
    EXPECT_EQ(detect_keys({t5, ella}).score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(detect_keys({t5, ella}).variant, "custom"); // 1 T5 block, no perceiver blocks
    EXPECT_EQ(detect_keys({t5, "unet.out.weight"}).score, CKPTCONV_SCORE_NO);
    EXPECT_EQ(detect_keys({ella, "unet.out.weight"}).score, CKPTCONV_SCORE_NO);
    // Already cut: the output of this plugin is not its input.
    EXPECT_EQ(detect_keys({"sta_model.connector.latents", "unet.out.weight"}).score, CKPTCONV_SCORE_NO);
}

TEST(DetectT2mCut, OtherFamiliesScoreNothing) {
    for (const char* file : {"cogvideox_sat/1.0/t2v_tiny.pt", "torch/fairseq_like.pt", "torch/nested_roots.pt"})
        EXPECT_EQ(detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus(file))).score, CKPTCONV_SCORE_NO)
            << file;
}

} // namespace
} // namespace t2m_cut
