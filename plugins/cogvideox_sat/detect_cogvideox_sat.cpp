#include "detect_cogvideox_sat.hpp"

#include <optional>

namespace cogvideox_sat {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::RootView;
using ckptconv::sdk::TensorView;

constexpr const char* kSatPrefix = "model.diffusion_model.";

/** Where a layout keeps the tensors a transformer's sizes are read from. */
struct ShapeKeys {
    const char* patch_proj;
    const char* time_embed;
    const char* q_norm; ///< block 0's: its length is the head width
    const char* final_linear;
    const char* text_proj;
    const char* pos_embedding;
    const char* ofs_embed;
    const char* blocks; ///< the pattern that counts layers
};

// SAT's names (after the prefix), and the same tensors under diffusers' names.
const ShapeKeys kSatKeys{"mixins.patch_embed.proj.weight",
                         "time_embed.0.weight",
                         "mixins.adaln_layer.query_layernorm_list.0.weight",
                         "mixins.final_layer.linear.weight",
                         "mixins.patch_embed.text_proj.weight",
                         "mixins.pos_embed.pos_embedding",
                         "ofs_embed.0.weight",
                         "transformer.layers.{i}."};
const ShapeKeys kDiffusersKeys{"patch_embed.proj.weight",
                               "time_embedding.linear_1.weight",
                               "transformer_blocks.0.attn1.norm_q.weight",
                               "proj_out.weight",
                               "patch_embed.text_proj.weight",
                               "patch_embed.pos_embedding",
                               "ofs_embedding.linear_1.weight",
                               "transformer_blocks.{i}."};

// Further anchors of SAT's layout.
constexpr const char* kQkv0 = "transformer.layers.0.attention.query_key_value.weight";
// The same weight inside SAT's LoraLinear wrapper (lora2.py): the base linear is its `original` child.
constexpr const char* kLoraQkv0 = "transformer.layers.0.attention.query_key_value.original.weight";
constexpr const char* kAdaLn0 = "mixins.adaln_layer.adaLN_modulations.0.1.weight";

std::string name_variant(const SatTransformerShape& s) {
    if (s.version == "1.0") {
        if (s.hidden == 1920 && s.layers == 30 && s.in_channels == 16 && !s.learned_pos_embedding) return "2b";
        if (s.hidden == 3072 && s.layers == 42 && s.in_channels == 16) return "5b";
        if (s.hidden == 3072 && s.layers == 42 && s.in_channels == 32 && s.learned_pos_embedding) return "5b-i2v";
    } else {
        if (s.hidden == 3072 && s.layers == 42 && s.in_channels == 16 && !s.ofs_embedding) return "1.5-5b";
        if (s.hidden == 3072 && s.layers == 42 && s.in_channels == 32 && s.ofs_embedding) return "1.5-5b-i2v";
    }
    return "custom";
}

/**
 * Widths, layer count, patch layout (1.0: Conv2d, 1.5: Linear over 2x2x2), position table and ofs
 * embedding, read from `keys` under `prefix` in `root`. nullopt with `problem` empty when the anchors
 * are not all there (not this layout), with `problem` set when they are but have unexpected shapes.
 */
std::optional<SatTransformerShape> read_shape(const IndexView& index, const RootView& root, const std::string& prefix,
                                              const ShapeKeys& keys, std::string& problem) {
    const auto p = std::string(root.path);
    const TensorView* proj = index.find(p, prefix + keys.patch_proj);
    const TensorView* time = index.find(p, prefix + keys.time_embed);
    const TensorView* qnorm = index.find(p, prefix + keys.q_norm);
    const TensorView* final_linear = index.find(p, prefix + keys.final_linear);
    const TensorView* text = index.find(p, prefix + keys.text_proj);
    problem.clear();
    if (!proj || !time || !qnorm || !final_linear || !text) return std::nullopt;
    if (time->shape.size() != 2 || qnorm->shape.size() != 1 || text->shape.size() != 2 ||
        final_linear->shape.size() != 2) {
        problem = "unexpected ranks in time/norm/projection weights";
        return std::nullopt;
    }
    SatTransformerShape s;
    s.root = p;
    s.prefix = prefix;
    s.hidden = time->shape[1];
    s.time_embed_dim = time->shape[0];
    s.head_dim = qnorm->shape[0];
    s.heads = s.head_dim > 0 ? s.hidden / s.head_dim : 0;
    s.text_dim = text->shape[1];
    s.out_dim = final_linear->shape[0];
    s.layers = ckptconv::sdk::count_layers(index, root, KeyPattern(prefix + keys.blocks));
    if (proj->shape.size() == 4) {
        s.version = "1.0";
        s.in_channels = proj->shape[1];
    } else if (proj->shape.size() == 2 && proj->shape[1] % 8 == 0) {
        s.version = "1.5";
        s.in_channels = proj->shape[1] / 8;
    } else {
        problem = "patch_embed.proj.weight has shape " + ckptconv::sdk::shape_string(proj->shape);
        return std::nullopt;
    }
    if (const TensorView* pos = index.find(p, prefix + keys.pos_embedding)) {
        s.learned_pos_embedding = true;
        s.pos_embedding_shape = pos->shape;
    }
    if (const TensorView* ofs = index.find(p, prefix + keys.ofs_embed); ofs && ofs->shape.size() == 2) {
        s.ofs_embedding = true;
        s.ofs_dim = ofs->shape[1];
    }
    // Cross-checks that tell 1.0 from 1.5 a second way (out dim 16*p*p (*p_t)), and the widths agree.
    s.consistent = s.out_dim == (s.version == "1.0" ? 64 : 128) && s.heads * s.head_dim == s.hidden && s.layers > 0 &&
                   proj->shape[0] == s.hidden;
    return s;
}

// A CogVideoXTransformer3DModel state dict under diffusers' own names (CogVideo finetune/ saves them so).
SatDetection detect_diffusers_names(const IndexView& index) {
    SatDetection out;
    for (const RootView& root : index.roots()) {
        const auto p = std::string(root.path);
        std::string problem;
        if (!index.find(p, "transformer_blocks.0.attn1.to_q.weight")) continue;
        std::optional<SatTransformerShape> s = read_shape(index, root, "", kDiffusersKeys, problem);
        if (!s) continue;
        s->diffusers_names = true;
        s->variant = name_variant(*s);
        out.detection = Detection{s->consistent ? CKPTCONV_SCORE_CERTAIN : CKPTCONV_SCORE_PLAUSIBLE, s->version,
                                  s->variant, "diffusers",
                                  "CogVideoX " + s->version + " transformer already under diffusers names in root '" +
                                      p + "' (a CogVideo finetune/ save): D=" + std::to_string(s->hidden) + ", " +
                                      std::to_string(s->layers) + " layers; config.json from the shapes"};
        out.shape = *s;
        return out;
    }
    return out;
}

} // namespace

SatDetection detect_cogvideox_sat(const IndexView& index) {
    SatDetection out;
    for (const RootView& root : index.roots()) {
        for (const std::string& prefix : {std::string(kSatPrefix), std::string()}) {
            const auto p = std::string(root.path);
            const TensorView* qkv = index.find(p, prefix + kQkv0);
            if (!qkv) qkv = index.find(p, prefix + kLoraQkv0);
            if (!qkv || !index.find(p, prefix + kAdaLn0)) continue;
            std::string problem;
            std::optional<SatTransformerShape> found = read_shape(index, root, prefix, kSatKeys, problem);
            if (!found) {
                if (!problem.empty())
                    out.detection =
                        Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "", "SAT CogVideoX key layout, but " + problem};
                continue;
            }
            SatTransformerShape& s = *found;
            for (const TensorView* t : index.tensors_of(root)) {
                if (t->key.find(".original.") != std::string_view::npos ||
                    t->key.find(".matrix_A.") != std::string_view::npos) {
                    s.lora = true;
                    break;
                }
            }
            s.variant = name_variant(s);
            if (s.lora) s.variant += "+lora";

            std::string reason = "SAT CogVideoX " + s.version + " transformer under '" + p + (p.empty() ? "" : "/") +
                                 prefix + "': D=" + std::to_string(s.hidden) + ", " + std::to_string(s.layers) +
                                 " layers, " + std::to_string(s.heads) +
                                 " heads, in_channels=" + std::to_string(s.in_channels) + ", patch embed " +
                                 ckptconv::sdk::shape_string(index.find(p, prefix + kSatKeys.patch_proj)->shape);
            if (s.lora) reason += "; SAT LoRA wrapper keys present";
            if (!s.consistent) reason += "; shapes disagree (out dim " + std::to_string(s.out_dim) + ")";
            // Certain: fingerprint, version and a rule set registered for it (rules_cogvideox_sat).
            out.detection = Detection{s.consistent ? CKPTCONV_SCORE_CERTAIN : CKPTCONV_SCORE_PLAUSIBLE, s.version,
                                      s.variant, "diffusers", reason};
            out.shape = s;
            return out;
        }
    }
    if (out.detection.reason.empty()) out = detect_diffusers_names(index);
    if (out.detection.reason.empty()) out.detection = Detection::no("no SAT CogVideoX transformer keys");
    return out;
}

} // namespace cogvideox_sat
