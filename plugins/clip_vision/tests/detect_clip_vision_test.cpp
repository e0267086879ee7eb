// Fingerprinting of CLIP vision towers: committed fixtures and full-size metadata-only indexes.
#include "../detect_clip_vision.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace clip_vision {
namespace {

using Keys = std::vector<std::pair<std::string, std::vector<int64_t>>>;

ClipDetection detect(const ckptconv::core::CheckpointIndex& index) {
    const ckptconv::core::AbiIndex abi(index);
    return detect_clip_vision(ckptconv::sdk::IndexView(abi.view()));
}

/** An HF vision tower's anchors at ViT-L/14 size (24 layers, 257 positions). */
Keys vit_l14(const std::string& p, bool fused) {
    Keys k = {{p + "embeddings.class_embedding", {1024}},
              {p + "embeddings.patch_embedding.weight", {1024, 3, 14, 14}},
              {p + "embeddings.position_embedding.weight", {257, 1024}},
              {p + "pre_layrnorm.weight", {1024}}};
    const std::string layer = fused ? "transformer.layers." : "encoder.layers.";
    for (int i = 0; i < 24; ++i) {
        const std::string b = p + layer + std::to_string(i) + ".";
        if (fused)
            k.push_back({b + "self_attn.qkv_proj.weight", {3072, 1024}});
        else
            k.push_back({b + "self_attn.q_proj.weight", {1024, 1024}});
        k.push_back({b + "mlp.fc1.weight", {4096, 1024}});
    }
    return k;
}

TEST(DetectClipVision, LegacyClipModelFixture) {
    const auto d =
        detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("clip_vision/clip_model_b16_legacy.bin")));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(d.detection.format_version, "hf");
    EXPECT_EQ(d.detection.target, "deepencoder");
    EXPECT_EQ(d.tower.tower, "vision_model.");
    EXPECT_EQ(d.tower.layers, 3);
    EXPECT_EQ(d.tower.patch, 16);
    EXPECT_EQ(d.tower.positions, 17);
    EXPECT_TRUE(d.tower.position_ids);
    EXPECT_TRUE(d.tower.text_tower);
    EXPECT_NE(d.detection.reason.find("CLIPModel"), std::string::npos) << d.detection.reason;
}

TEST(DetectClipVision, DeepSeekOcrTowerUnderItsPrefix) {
    const auto d = detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("clip_vision/deepseek_ocr_tiny.pt")));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(d.detection.format_version, "deepencoder");
    EXPECT_EQ(d.tower.tower, "model.vision_model.");
    EXPECT_EQ(model_prefix(d.tower), "model.");
    EXPECT_EQ(d.tower.layers, 2);
    EXPECT_FALSE(d.tower.position_ids);
}

TEST(DetectClipVision, FullSizeVariantsFromShapes) {
    auto hf = detect(ckptconv::test::index_from_keys("", vit_l14("vision_model.", false)));
    EXPECT_EQ(hf.detection.variant, "vit-l-14");
    EXPECT_EQ(hf.tower.mlp, 4096);
    auto fused = detect(ckptconv::test::index_from_keys("", vit_l14("", true)));
    EXPECT_EQ(fused.detection.variant, "vit-l-14");
    EXPECT_EQ(fused.detection.format_version, "deepencoder");
    EXPECT_EQ(fused.tower.tower, "");
}

TEST(DetectClipVision, TextTowersAndOtherEncodersAreNotVisionTowers) {
    // A text tower and a fairseq encoder have encoder.layers.N.self_attn.q_proj but no pre_layrnorm.
    EXPECT_EQ(
        detect(ckptconv::test::index_from_keys("", {{"text_model.encoder.layers.0.self_attn.q_proj.weight", {8, 8}},
                                                    {"text_model.final_layer_norm.weight", {8}}}))
            .detection.score,
        CKPTCONV_SCORE_NO);
    EXPECT_EQ(detect(ckptconv::test::index_from_keys("", {{"encoder.layers.0.self_attn.q_proj.weight", {8, 8}},
                                                          {"encoder.layers.0.fc1.weight", {16, 8}}}))
                  .detection.score,
              CKPTCONV_SCORE_NO);
}

TEST(DetectClipVision, InconsistentShapesArePlausibleOnly) {
    Keys k = vit_l14("vision_model.", false);
    k[0].second = {768}; // class embedding narrower than the patch embedding
    const auto d = detect(ckptconv::test::index_from_keys("", k));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_PLAUSIBLE);
    EXPECT_NE(d.detection.reason.find("width 1024"), std::string::npos) << d.detection.reason;
}

} // namespace
} // namespace clip_vision
