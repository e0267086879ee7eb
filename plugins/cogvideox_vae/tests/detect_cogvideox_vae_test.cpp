// Fingerprinting and target spec of SAT CogVideoX VAEs, on the committed fixtures.
#include "../detect_cogvideox_vae.hpp"
#include "../rules_cogvideox_vae.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace cogvideox_vae {
namespace {

VaeDetection detect_file(const std::string& relative) {
    const auto index = ckptconv::core::open_checkpoint(ckptconv::test::corpus(relative));
    const ckptconv::core::AbiIndex abi(index);
    return detect_cogvideox_vae(ckptconv::sdk::IndexView(abi.view()));
}

TEST(DetectCogVideoXVae, StandaloneVaeIsCertainAndShapesAreRead) {
    const VaeDetection d = detect_file("cogvideox_vae/3d-vae_tiny.pt");
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(d.detection.format_version, "1.0");
    EXPECT_TRUE(d.detection.variant.empty()) << "the weights do not tell the variant";
    EXPECT_EQ(d.shape.root, "state_dict");
    EXPECT_EQ(d.shape.block_channels, (std::vector<int64_t>{4, 8, 8, 16}));
    EXPECT_EQ(d.shape.layers_per_block, 3);
    EXPECT_EQ(d.shape.latent_channels, 4);
    EXPECT_EQ(d.shape.in_channels, 3);
    EXPECT_EQ(d.shape.out_channels, 3);
}

TEST(DetectCogVideoXVae, InsideAFineTuneDumpScoresBelowTheTransformer) {
    const VaeDetection d = detect_file("cogvideox_sat/1.5/finetune_dump_tiny.pt");
    EXPECT_EQ(d.detection.score, 60);
    EXPECT_EQ(d.shape.prefix, "first_stage_model.");
    EXPECT_NE(d.detection.reason.find("--plugin cogvideox_vae"), std::string::npos);
}

TEST(DetectCogVideoXVae, TransformersAndOtherFamiliesScoreNothing) {
    for (const char* f : {"cogvideox_sat/1.0/t2v_tiny.pt", "t2m_cut/t2m_two_roots.pt", "torch/fairseq_like.pt"})
        EXPECT_EQ(detect_file(f).detection.score, CKPTCONV_SCORE_NO) << f;
}

TEST(CogVideoXVaeRules, TargetSpecHas436KeysAtFullSize) {
    SatVaeShape full;
    full.block_channels = {128, 256, 256, 512};
    full.layers_per_block = 3;
    full.in_channels = full.out_channels = 3;
    full.latent_channels = 16;
    const auto keys = diffusers_vae_keys(full);
    EXPECT_EQ(keys.size(), 436u);
    std::map<std::string, ckptconv::sdk::Shape> by_name(keys.begin(), keys.end());
    // Spot checks against cogvideox.md 6.3.
    EXPECT_EQ(by_name.at("encoder.down_blocks.1.resnets.0.conv_shortcut.weight"),
              (ckptconv::sdk::Shape{256, 128, 1, 1, 1}));
    EXPECT_EQ(by_name.at("decoder.up_blocks.1.resnets.0.conv_shortcut.weight"),
              (ckptconv::sdk::Shape{256, 512, 1, 1, 1}));
    EXPECT_EQ(by_name.at("decoder.up_blocks.3.resnets.0.conv_shortcut.weight"),
              (ckptconv::sdk::Shape{128, 256, 1, 1, 1}));
    EXPECT_EQ(by_name.at("decoder.up_blocks.0.upsamplers.0.conv.weight"), (ckptconv::sdk::Shape{512, 512, 3, 3}));
    EXPECT_EQ(by_name.at("encoder.conv_out.conv.weight"), (ckptconv::sdk::Shape{32, 512, 3, 3, 3}));
    EXPECT_EQ(by_name.count("decoder.up_blocks.3.upsamplers.0.conv.weight"), 0u);
}

} // namespace
} // namespace cogvideox_vae
