// Fingerprinting of XLM-R / RoBERTa checkpoints: committed fixtures and full-size metadata-only indexes.
#include "../detect_xlmr_hf.hpp"
#include "../rules_xlmr_hf.hpp"
#include "core/host/AbiIndex.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace xlmr_hf {
namespace {

XlmrDetection detect(const ckptconv::core::CheckpointIndex& index) {
    const ckptconv::core::AbiIndex abi(index);
    return detect_xlmr_hf(ckptconv::sdk::IndexView(abi.view()));
}

XlmrDetection detect_fixture(const std::string& name) {
    return detect(ckptconv::core::open_checkpoint(ckptconv::test::corpus("xlmr_hf/" + name)));
}

std::vector<std::pair<std::string, std::vector<int64_t>>> hf_full_size(int64_t vocab, int64_t segments) {
    XlmrShape s;
    s.hidden = 768;
    s.layers = 12;
    s.ffn = 3072;
    s.vocab = vocab;
    s.positions = 514;
    s.lm_head = true;
    std::vector<std::pair<std::string, std::vector<int64_t>>> keys;
    for (const auto& [name, shape] : hf_keys(s))
        keys.push_back(
            {name, name.find("token_type") != std::string::npos ? std::vector<int64_t>{segments, 768} : shape});
    return keys;
}

TEST(DetectXlmr, Fixtures) {
    const auto hf = detect_fixture("xlmr_mlm_legacy.bin");
    EXPECT_EQ(hf.detection.score, CKPTCONV_SCORE_CERTAIN);
    EXPECT_EQ(hf.detection.format_version, "hf");
    EXPECT_EQ(hf.shape.prefix, "roberta.");
    EXPECT_TRUE(hf.shape.lm_head);
    EXPECT_EQ(hf.shape.layers, 12);
    const auto raw = detect_fixture("xlmr_fairseq_2019.pt");
    EXPECT_EQ(raw.detection.format_version, "fairseq");
    EXPECT_EQ(raw.shape.root, "model");
    EXPECT_EQ(raw.shape.prefix, "decoder.");
    EXPECT_TRUE(raw.shape.fused_qkv);
    const auto base = detect_fixture("xlmr_base_model.safetensors");
    EXPECT_EQ(base.shape.prefix, "");
    EXPECT_FALSE(base.shape.lm_head);
}

TEST(DetectXlmr, VariantsAtFullSize) {
    EXPECT_EQ(detect(ckptconv::test::index_from_keys("", hf_full_size(250002, 1))).detection.variant, "xlmr-base");
    EXPECT_EQ(detect(ckptconv::test::index_from_keys("", hf_full_size(50265, 1))).detection.variant, "roberta-base");
    XlmrShape s;
    s.hidden = 768;
    s.layers = 12;
    s.ffn = 3072;
    s.vocab = 250002;
    s.positions = 514;
    s.lm_head = true;
    EXPECT_EQ(hf_keys(s).size(), 205u - 2u + 1u) << "HF's 205 without the pooler, plus the tied decoder bias";
    EXPECT_EQ(fairseq_keys(s).size(), 4u + 16u * 12u + 6u + 1u);
}

TEST(DetectXlmr, BertIsNotClaimed) {
    const auto d = detect(ckptconv::test::index_from_keys("", hf_full_size(30522, 2)));
    EXPECT_EQ(d.detection.score, CKPTCONV_SCORE_NO);
    EXPECT_NE(d.detection.reason.find("BERT"), std::string::npos) << d.detection.reason;
}

} // namespace
} // namespace xlmr_hf
