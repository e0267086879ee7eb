#include "detect_acme_lm.hpp"

namespace acme_lm {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::Shape;
using ckptconv::sdk::TensorView;

bool has_shape(const TensorView* t, const Shape& shape) { return t && t->shape == shape; }

/** "1" or "2" when block 0's attention has that version's tensors at the right shapes, else "". */
std::string attention_format(const IndexView& index, const std::string& root, int64_t d) {
    if (has_shape(index.find(root, "blocks.0.attn.qkv.weight"), {3 * d, d})) return "1";
    if (has_shape(index.find(root, "blocks.0.attn.q.weight"), {d, d}) &&
        has_shape(index.find(root, "blocks.0.attn.k.weight"), {d, d}) &&
        has_shape(index.find(root, "blocks.0.attn.v.weight"), {d, d}))
        return "2";
    return "";
}

} // namespace

std::optional<AcmeLayout> find_acme_layout(const IndexView& index) {
    for (const auto& root : index.roots()) {
        if (!root.is_state_dict) continue;
        const std::string path(root.path);
        const TensorView* tok = index.find(path, "tok_emb.weight");
        const TensorView* pos = index.find(path, "pos_emb");
        if (!tok || !pos || tok->shape.size() != 2 || pos->shape.size() != 2) continue;
        AcmeLayout layout;
        layout.root = path;
        layout.vocab = tok->shape[0];
        layout.width = tok->shape[1];
        layout.positions = pos->shape[0];
        const int64_t d = layout.width;
        // Names alone could be anyone's; the shapes tying them together are Acme's.
        if (!has_shape(index.find(path, "head.weight"), {layout.vocab, d}) || pos->shape[1] != d ||
            !has_shape(index.find(path, "blocks.0.attn.proj.weight"), {d, d}))
            continue;
        layout.layers = ckptconv::sdk::count_layers(index, root, KeyPattern("blocks.{i}."));
        layout.format_version = attention_format(index, path, d);
        layout.reason = "Acme LM in '" + path + "': " + std::to_string(layout.layers) + " blocks, width " +
                        std::to_string(d) + ", vocab " + std::to_string(layout.vocab) +
                        (layout.format_version == "1"   ? ", fused attn.qkv (Acme trainer 1.x)"
                         : layout.format_version == "2" ? ", separate attn.q/k/v (Acme trainer 2.x)"
                                                        : ", attention layout not recognised");
        return layout;
    }
    return std::nullopt;
}

Detection detect_acme_lm(const IndexView& index) {
    const auto layout = find_acme_layout(index);
    if (!layout)
        return Detection::no("no state dict holds tok_emb.weight, pos_emb, head.weight and blocks.0.attn.proj");
    // Score scale: 50 = the structure fits but no version rules apply; 100 = a version with rules.
    if (layout->format_version.empty())
        return Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "safetensors", layout->reason};
    const std::string variant = "L" + std::to_string(layout->layers) + "-D" + std::to_string(layout->width);
    return Detection{CKPTCONV_SCORE_CERTAIN, layout->format_version, variant, "safetensors", layout->reason};
}

} // namespace acme_lm
