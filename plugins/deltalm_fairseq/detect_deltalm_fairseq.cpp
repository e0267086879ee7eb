#include "detect_deltalm_fairseq.hpp"

namespace deltalm_fairseq {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::TensorView;

struct LayoutNames {
    DeltaLmLayout layout;
    const char* format_version;
    const char* embed;       ///< encoder token embedding
    const char* positions;   ///< encoder position embedding
    const char* emb_norm;    ///< encoder embedding LayerNorm weight
    const char* decoder_ffn; ///< a key only this layout's decoder layers have
    const char* encoder_fc1;
};

// The decoder's two FFNs are what no other fairseq transformer has: ffn_1/ffn_2 pretrained, fc3 + ffn_layer_norm tuned.
constexpr LayoutNames kLayouts[] = {
    {DeltaLmLayout::Pretrained, "pretrained", "src_embedding.embed_tokens.weight",
     "src_embedding.embed_positions.weight", "src_embedding.emb_layer_norm.weight", "decoder.layers.0.ffn_1.fc1.weight",
     "encoder.layers.0.ffn.fc1.weight"},
    {DeltaLmLayout::Fairseq, "fairseq", "encoder.embed_tokens.weight", "encoder.embed_positions.weight",
     "encoder.layernorm_embedding.weight", "decoder.layers.0.fc3.weight", "encoder.layers.0.fc1.weight"},
};

std::string name_variant(const DeltaLmShape& s) {
    if (s.encoder_layers == 12 && s.decoder_layers == 6 && s.hidden == 768 && s.ffn == 3072 && s.embedding_layer_norm)
        return "base";
    if (s.encoder_layers == 24 && s.decoder_layers == 12 && s.hidden == 1024 && s.ffn == 4096 &&
        !s.embedding_layer_norm)
        return "large";
    return "custom";
}

} // namespace

DeltaLmDetection detect_deltalm_fairseq(const IndexView& index) {
    DeltaLmDetection out;
    out.detection = Detection::no("no DeltaLM keys (src_embedding.* with decoder ffn_1/ffn_2, or decoder fc3 with "
                                  "ffn_layer_norm)");
    for (const auto& root : index.roots()) {
        const std::string r(root.path);
        for (const LayoutNames& names : kLayouts) {
            const TensorView* embed = index.find(r, names.embed);
            const TensorView* ffn = index.find(r, names.decoder_ffn);
            const TensorView* fc1 = index.find(r, names.encoder_fc1);
            const TensorView* pos = index.find(r, names.positions);
            const bool tuned = names.layout == DeltaLmLayout::Fairseq;
            if (!embed || !ffn) continue;
            if (tuned && !index.find(r, "decoder.layers.0.ffn_layer_norm.weight")) continue;
            if (!fc1 || !pos || embed->shape.size() != 2) {
                out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                                          std::string("DeltaLM ") + names.format_version + " keys in root '" + r +
                                              "', but no " + names.encoder_fc1 + " / " + names.positions};
                continue;
            }
            DeltaLmShape s;
            s.layout = names.layout;
            s.root = r;
            s.vocab = embed->dim(0);
            s.hidden = embed->dim(1);
            s.dtype = embed->dtype;
            s.positions = pos->dim(0);
            s.ffn = fc1->dim(0);
            s.embedding_layer_norm = index.find(r, names.emb_norm) != nullptr;
            s.encoder_layers = ckptconv::sdk::count_layers(index, root, KeyPattern("encoder.layers.{i}."));
            s.decoder_layers = ckptconv::sdk::count_layers(index, root, KeyPattern("decoder.layers.{i}."));
            s.variant = name_variant(s);
            out.shape = s;
            out.detection = Detection{
                CKPTCONV_SCORE_CERTAIN, names.format_version, s.variant, tuned ? "deltalm_pretrained" : "fairseq",
                std::string(tuned ? "fairseq DeltaLM model" : "DeltaLM pretrained weights") + " in root '" + r +
                    "': " + std::to_string(s.encoder_layers) + "+" + std::to_string(s.decoder_layers) +
                    " layers, width " + std::to_string(s.hidden) + ", " + std::to_string(s.vocab) +
                    " vocabulary rows, " + (s.embedding_layer_norm ? "with" : "without") + " embedding LayerNorm"};
            return out;
        }
    }
    return out;
}

} // namespace deltalm_fairseq
