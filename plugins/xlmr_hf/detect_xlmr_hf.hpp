// Fingerprint of an XLM-R / RoBERTa encoder: Hugging Face names (XLMRobertaForMaskedLM or the
// base model) or fairseq's (raw 2019 `decoder.sentence_encoder` or upgraded `encoder.`) (families.md B, F).
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace xlmr_hf {

enum class XlmrLayout { HuggingFace, Fairseq };

struct XlmrShape {
    XlmrLayout layout = XlmrLayout::HuggingFace;
    std::string root;
    /** HF: "roberta." (MaskedLM) or "" (base model). fairseq: "encoder." or "decoder." (raw 2019 files). */
    std::string prefix;
    bool fused_qkv = false; ///< fairseq in_proj_weight [3D, D] instead of q/k/v_proj
    bool lm_head = false;
    int64_t hidden = 0;
    int64_t layers = 0;
    int64_t ffn = 0;
    int64_t vocab = 0;
    int64_t positions = 0;
    uint32_t dtype = 0;  ///< of the token embedding: what created tensors match
    std::string variant; ///< xlmr-base, xlmr-large, roberta-base, roberta-large or custom
};

struct XlmrDetection {
    ckptconv::sdk::Detection detection;
    XlmrShape shape; ///< hidden == 0 when nothing was recognised
};

/** 100 for either side (format version "hf" or "fairseq"); BERT-style segment tables (2 rows) are not claimed. */
XlmrDetection detect_xlmr_hf(const ckptconv::sdk::IndexView& index);

} // namespace xlmr_hf
