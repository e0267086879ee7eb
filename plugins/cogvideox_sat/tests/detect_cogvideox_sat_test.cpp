// Fingerprinting of SAT CogVideoX transformers: real fixtures at reduced width,
// and metadata-only indexes with the released models' full shapes.
#include "../detect_cogvideox_sat.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace cogvideox_sat {
namespace {

using Keys = std::vector<std::pair<std::string, std::vector<int64_t>>>;

SatDetection detect(const ckptconv::core::CheckpointIndex& index) {
    const ckptconv::core::AbiIndex abi(index);
    return detect_cogvideox_sat(ckptconv::sdk::IndexView(abi.view()));
}

SatDetection detect_file(const std::string& relative) {
    return detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus(relative)));
}

// The key inventory of cogvideox.md section 3, shapes only.
Keys sat_keys(int64_t D, int64_t layers, int64_t C, bool v15, bool learned_pos, bool ofs) {
    const std::string p = "model.diffusion_model.";
    Keys k{{p + "time_embed.0.weight", {512, D}},         {p + "time_embed.0.bias", {512}},
           {p + "time_embed.2.weight", {512, 512}},       {p + "time_embed.2.bias", {512}},
           {p + "mixins.patch_embed.proj.bias", {D}},     {p + "mixins.patch_embed.text_proj.weight", {D, 4096}},
           {p + "mixins.patch_embed.text_proj.bias", {D}}};
    k.push_back({p + "mixins.patch_embed.proj.weight",
                 v15 ? std::vector<int64_t>{D, 8 * C} : std::vector<int64_t>{D, C, 2, 2}});
    if (ofs)
        for (const char* n : {"ofs_embed.0", "ofs_embed.2"}) {
            k.push_back({p + n + ".weight", {512, 512}});
            k.push_back({p + n + ".bias", {512}});
        }
    if (learned_pos) k.push_back({p + "mixins.pos_embed.pos_embedding", {1, 17776, D}});
    for (int64_t i = 0; i < layers; ++i) {
        const std::string a = p + "mixins.adaln_layer.";
        const std::string n = std::to_string(i);
        k.push_back({a + "adaLN_modulations." + n + ".1.weight", {12 * D, 512}});
        k.push_back({a + "query_layernorm_list." + n + ".weight", {64}});
        const std::string t = p + "transformer.layers." + n + ".";
        k.push_back({t + "attention.query_key_value.weight", {3 * D, D}});
        k.push_back({t + "mlp.dense_h_to_4h.weight", {4 * D, D}});
    }
    const int64_t out = v15 ? 128 : 64;
    k.push_back({p + "mixins.final_layer.linear.weight", {out, D}});
    return k;
}

TEST(DetectCogVideoXSat, FixturesAtReducedWidth) {
    const auto t2v = detect_file("cogvideox_sat/1.0/t2v_tiny.pt");
    EXPECT_EQ(t2v.detection.score, CKPTCONV_SCORE_CERTAIN) << t2v.detection.reason;
    EXPECT_EQ(t2v.detection.format_version, "1.0");
    EXPECT_EQ(t2v.detection.target, "diffusers");
    EXPECT_EQ(t2v.shape.root, "module");
    EXPECT_EQ(t2v.shape.prefix, "model.diffusion_model.");
    EXPECT_EQ(t2v.shape.hidden, 128);
    EXPECT_EQ(t2v.shape.layers, 2);
    EXPECT_EQ(t2v.shape.heads, 2);
    EXPECT_EQ(t2v.shape.in_channels, 16);
    EXPECT_EQ(t2v.shape.time_embed_dim, 64);
    EXPECT_EQ(t2v.detection.variant, "custom");

    const auto i2v = detect_file("cogvideox_sat/1.0/i2v_tiny.pt");
    EXPECT_EQ(i2v.shape.in_channels, 32);
    EXPECT_TRUE(i2v.shape.learned_pos_embedding);

    const auto v15 = detect_file("cogvideox_sat/1.5/t2v_tiny.pt");
    EXPECT_EQ(v15.detection.format_version, "1.5");
    EXPECT_EQ(v15.shape.in_channels, 16);
    EXPECT_EQ(v15.shape.out_dim, 128);
    const auto v15i = detect_file("cogvideox_sat/1.5/i2v_tiny.pt");
    EXPECT_EQ(v15i.shape.in_channels, 32);
    EXPECT_TRUE(v15i.shape.ofs_embedding);

    const auto bare = detect_file("cogvideox_sat/1.0/unwrapped_tiny.pt");
    EXPECT_EQ(bare.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(bare.shape.root, "");
    EXPECT_EQ(bare.shape.prefix, "");
}

TEST(DetectCogVideoXSat, NamesTheReleasedVariantsFromShapesAlone) {
    struct Case {
        int64_t D, L, C;
        bool v15, pos, ofs;
        const char* variant;
        const char* version;
    };
    for (const Case& c :
         {Case{1920, 30, 16, false, false, false, "2b", "1.0"}, Case{3072, 42, 16, false, false, false, "5b", "1.0"},
          Case{3072, 42, 32, false, true, false, "5b-i2v", "1.0"},
          Case{3072, 42, 16, true, false, false, "1.5-5b", "1.5"},
          Case{3072, 42, 32, true, false, true, "1.5-5b-i2v", "1.5"},
          Case{1920, 30, 32, false, false, false, "custom", "1.0"}}) {
        const auto d = detect(ckptconv::test::index_from_keys("module", sat_keys(c.D, c.L, c.C, c.v15, c.pos, c.ofs)));
        EXPECT_EQ(d.detection.variant, c.variant) << d.detection.reason;
        EXPECT_EQ(d.detection.format_version, c.version);
        EXPECT_EQ(d.shape.layers, c.L);
        EXPECT_EQ(d.shape.heads, c.D / 64);
        EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_CERTAIN);
    }
}

TEST(DetectCogVideoXSat, LoraAndInconsistentShapes) {
    Keys lora = sat_keys(1920, 30, 16, false, false, false);
    lora.push_back({"model.diffusion_model.transformer.layers.0.attention.query_key_value.matrix_A.0", {128, 1920}});
    EXPECT_EQ(detect(ckptconv::test::index_from_keys("module", lora)).detection.variant, "2b+lora");

    Keys wrong_out = sat_keys(1920, 30, 16, false, false, false);
    wrong_out.back().second = {128, 1920}; // a 1.5-sized final layer on a 1.0 patch embed
    const auto d = detect(ckptconv::test::index_from_keys("module", wrong_out));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_PLAUSIBLE);
    EXPECT_NE(d.detection.reason.find("shapes disagree"), std::string::npos);
}

TEST(DetectCogVideoXSat, NotMine) {
    EXPECT_EQ(detect_file("torch/fairseq_like.pt").detection.score, 0);
    // An already-converted diffusers transformer scores 0.
    const auto diffusers =
        detect(ckptconv::test::index_from_keys("", {{"patch_embed.proj.weight", {1920, 16, 2, 2}},
                                                    {"transformer_blocks.0.attn1.to_q.weight", {1920, 1920}},
                                                    {"time_embedding.linear_1.weight", {512, 1920}},
                                                    {"norm_out.linear.weight", {3840, 512}}}));
    EXPECT_EQ(diffusers.detection.score, 0);
}

} // namespace
} // namespace cogvideox_sat
