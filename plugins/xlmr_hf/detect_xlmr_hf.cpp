#include "detect_xlmr_hf.hpp"

namespace xlmr_hf {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::TensorView;

std::string name_variant(const XlmrShape& s) {
    const bool base = s.hidden == 768 && s.layers == 12 && s.ffn == 3072;
    const bool large = s.hidden == 1024 && s.layers == 24 && s.ffn == 4096;
    const char* size = base ? "base" : large ? "large" : nullptr;
    if (!size || s.positions != 514) return "custom";
    if (s.vocab == 250002) return std::string("xlmr-") + size;
    if (s.vocab == 50265) return std::string("roberta-") + size;
    return "custom";
}

/** Reads sizes; returns what is inconsistent, or "" when the shapes agree. */
std::string read_sizes(const IndexView& index, XlmrShape& s, const TensorView& embed, const std::string& positions,
                       const std::string& layers, const std::string& fc1) {
    s.vocab = embed.dim(0);
    s.hidden = embed.dim(1);
    s.dtype = embed.dtype;
    const TensorView* pos = index.find(s.root, positions);
    const TensorView* ffn = index.find(s.root, fc1);
    if (!pos || !ffn) return "no " + positions + " or " + fc1;
    s.positions = pos->dim(0);
    s.ffn = ffn->dim(0);
    s.layers = ckptconv::sdk::count_layers(index, *index.root(s.root), KeyPattern(layers + "{i}."));
    if (pos->dim(1) != s.hidden || ffn->dim(1) != s.hidden)
        return "position or FFN weights do not have the embedding's width " + std::to_string(s.hidden);
    s.variant = name_variant(s);
    return {};
}

Detection found(const XlmrShape& s, const std::string& what) {
    return Detection{CKPTCONV_SCORE_CERTAIN, s.layout == XlmrLayout::HuggingFace ? "hf" : "fairseq", s.variant,
                     s.layout == XlmrLayout::HuggingFace ? "fairseq" : "hf",
                     what + " in root '" + s.root + "': " + std::to_string(s.layers) + " layers, width " +
                         std::to_string(s.hidden) + ", " + std::to_string(s.vocab) + " vocabulary rows" +
                         (s.lm_head ? ", with LM head" : ", no LM head")};
}

} // namespace

XlmrDetection detect_xlmr_hf(const IndexView& index) {
    XlmrDetection out;
    out.detection = Detection::no("no XLM-R/RoBERTa keys (roberta.encoder.layer.N.attention.self.query or "
                                  "sentence_encoder.layers.N.self_attn)");
    for (const auto& root : index.roots()) {
        const std::string r(root.path);
        for (const std::string p : {"roberta.", ""}) { // Hugging Face
            const TensorView* embed = index.find(r, p + "embeddings.word_embeddings.weight");
            const TensorView* segments = index.find(r, p + "embeddings.token_type_embeddings.weight");
            if (!embed || !index.find(r, p + "encoder.layer.0.attention.self.query.weight")) continue;
            if (!segments || segments->shape.empty() || segments->dim(0) != 1) {
                out.detection =
                    Detection::no("BERT-style encoder (token_type_embeddings " +
                                  (segments ? ckptconv::sdk::shape_string(segments->shape) : std::string("absent")) +
                                  "); XLM-R and RoBERTa have one segment row");
                continue;
            }
            XlmrShape s;
            s.layout = XlmrLayout::HuggingFace;
            s.root = r;
            s.prefix = p;
            s.lm_head = index.find(r, "lm_head.dense.weight") != nullptr;
            const std::string problem =
                read_sizes(index, s, *embed, p + "embeddings.position_embeddings.weight", p + "encoder.layer.",
                           p + "encoder.layer.0.intermediate.dense.weight");
            if (!problem.empty()) {
                out.detection =
                    Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "", "Hugging Face XLM-R keys, but " + problem};
                continue;
            }
            out.shape = s;
            out.detection =
                found(s, p.empty() ? "Hugging Face XLM-R/RoBERTa base model" : "Hugging Face XLMRobertaForMaskedLM");
            return out;
        }
        for (const std::string p : {"encoder.", "decoder."}) { // fairseq: upgraded, or the raw 2019 naming
            const std::string se = p + "sentence_encoder.";
            const TensorView* embed = index.find(r, se + "embed_tokens.weight");
            const bool fused = index.find(r, se + "layers.0.self_attn.in_proj_weight") != nullptr;
            if (!embed || (!fused && !index.find(r, se + "layers.0.self_attn.q_proj.weight"))) continue;
            XlmrShape s;
            s.layout = XlmrLayout::Fairseq;
            s.root = r;
            s.prefix = p;
            s.fused_qkv = fused;
            s.lm_head = index.find(r, p + "lm_head.dense.weight") != nullptr;
            const std::string problem =
                read_sizes(index, s, *embed, se + "embed_positions.weight", se + "layers.", se + "layers.0.fc1.weight");
            if (!problem.empty()) {
                out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "", "fairseq RoBERTa keys, but " + problem};
                continue;
            }
            out.shape = s;
            out.detection = found(s, p == "decoder." ? "fairseq XLM-R/RoBERTa (2019 naming, decoder.sentence_encoder)"
                                                     : "fairseq XLM-R/RoBERTa");
            return out;
        }
    }
    return out;
}

} // namespace xlmr_hf
