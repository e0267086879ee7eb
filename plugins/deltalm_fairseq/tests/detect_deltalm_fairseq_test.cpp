// Fingerprinting of DeltaLM checkpoints: committed fixtures and full-size metadata-only indexes.
#include "../detect_deltalm_fairseq.hpp"
#include "../rules_deltalm_fairseq.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace deltalm_fairseq {
namespace {

DeltaLmDetection detect(const ckptconv::core::CheckpointIndex& index) {
    const ckptconv::core::AbiIndex abi(index);
    return detect_deltalm_fairseq(ckptconv::sdk::IndexView(abi.view()));
}

DeltaLmDetection detect_fixture(const std::string& name) {
    return detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("deltalm_fairseq/" + name)));
}

/** The pretrained keys at full size, as metadata only. */
std::vector<std::pair<std::string, std::vector<int64_t>>> full_size(int64_t enc, int64_t dec, int64_t D, int64_t F,
                                                                    bool emb_norm) {
    DeltaLmShape s;
    s.encoder_layers = enc;
    s.decoder_layers = dec;
    s.hidden = D;
    s.ffn = F;
    s.embedding_layer_norm = emb_norm;
    std::vector<std::pair<std::string, std::vector<int64_t>>> keys;
    for (const auto& [name, shape] : pretrained_keys(s, 250104, 514)) keys.push_back({name, shape});
    return keys;
}

TEST(DetectDeltaLm, PretrainedFixtures) {
    const auto base = detect_fixture("deltalm_base_tiny.pt");
    EXPECT_EQ(base.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(base.detection.format_version, "pretrained");
    EXPECT_EQ(base.shape.root, "weights");
    EXPECT_EQ(base.shape.encoder_layers, 12);
    EXPECT_EQ(base.shape.decoder_layers, 6);
    EXPECT_TRUE(base.shape.embedding_layer_norm);
    const auto large = detect_fixture("deltalm_large_tiny.pt");
    EXPECT_EQ(large.shape.encoder_layers, 24);
    EXPECT_FALSE(large.shape.embedding_layer_norm);
}

TEST(DetectDeltaLm, FinetunedFixtureIsTheFairseqLayout) {
    const auto d = detect_fixture("deltalm_base_finetuned_tiny.pt");
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(d.detection.format_version, "fairseq");
    EXPECT_EQ(d.detection.target, "deltalm_pretrained");
    EXPECT_EQ(d.shape.root, "model");
    EXPECT_EQ(d.shape.vocab, 37);
}

TEST(DetectDeltaLm, BaseAndLargeAtFullSize) {
    const auto base = detect(ckptconv::test::index_from_keys("weights", full_size(12, 6, 768, 3072, true)));
    EXPECT_EQ(base.detection.variant, "base");
    EXPECT_EQ(pretrained_keys(base.shape, 250104, 514).size(), 392u);
    EXPECT_EQ(fairseq_keys(base.shape, 250001, 514).size(), 395u);
    const auto large = detect(ckptconv::test::index_from_keys("weights", full_size(24, 12, 1024, 4096, false)));
    EXPECT_EQ(large.detection.variant, "large");
    EXPECT_EQ(pretrained_keys(large.shape, 250104, 514).size(), 772u);
    const auto odd = detect(ckptconv::test::index_from_keys("weights", full_size(24, 12, 1024, 4096, true)));
    EXPECT_EQ(odd.detection.variant, "custom") << "large has no embedding LayerNorm";
}

TEST(DetectDeltaLm, StockFairseqTransformerIsNotDeltaLm) {
    // encoder/decoder layers with fc1 and encoder_attn, but no fc3 / ffn_layer_norm
    const auto d =
        detect(ckptconv::test::index_from_keys("model", {{"encoder.embed_tokens.weight", {10, 4}},
                                                         {"encoder.layers.0.fc1.weight", {8, 4}},
                                                         {"decoder.layers.0.encoder_attn.k_proj.weight", {4, 4}},
                                                         {"decoder.layers.0.fc1.weight", {8, 4}}}));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_NO);
}

} // namespace
} // namespace deltalm_fairseq
