#include "detect_cogvideox_sat.hpp"

namespace cogvideox_sat {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::RootView;
using ckptconv::sdk::TensorView;

constexpr const char* kSatPrefix = "model.diffusion_model.";

// Keys every SAT CogVideoX transformer has (after the prefix).
constexpr const char* kPatchProj = "mixins.patch_embed.proj.weight";
constexpr const char* kTimeEmbed = "time_embed.0.weight";
constexpr const char* kQkv0 = "transformer.layers.0.attention.query_key_value.weight";
// The same weight inside SAT's LoraLinear wrapper (lora2.py): the base linear is its `original` child.
constexpr const char* kLoraQkv0 = "transformer.layers.0.attention.query_key_value.original.weight";
constexpr const char* kAdaLn0 = "mixins.adaln_layer.adaLN_modulations.0.1.weight";
constexpr const char* kQNorm0 = "mixins.adaln_layer.query_layernorm_list.0.weight";
constexpr const char* kFinalLinear = "mixins.final_layer.linear.weight";
constexpr const char* kTextProj = "mixins.patch_embed.text_proj.weight";

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

// A CogVideoXTransformer3DModel state dict under diffusers' own names (CogVideo finetune/ saves them so).
SatDetection detect_diffusers_names(const IndexView& index) {
    SatDetection out;
    for (const RootView& root : index.roots()) {
        const auto p = std::string(root.path);
        const TensorView* proj = index.find(p, "patch_embed.proj.weight");
        const TensorView* time = index.find(p, "time_embedding.linear_1.weight");
        const TensorView* q = index.find(p, "transformer_blocks.0.attn1.to_q.weight");
        const TensorView* qnorm = index.find(p, "transformer_blocks.0.attn1.norm_q.weight");
        const TensorView* proj_out = index.find(p, "proj_out.weight");
        const TensorView* text = index.find(p, "patch_embed.text_proj.weight");
        if (!proj || !time || !q || !qnorm || !proj_out || !text || time->shape.size() != 2 ||
            qnorm->shape.size() != 1 || proj_out->shape.size() != 2 || text->shape.size() != 2)
            continue;
        SatTransformerShape s;
        s.root = p;
        s.diffusers_names = true;
        s.hidden = time->shape[1];
        s.time_embed_dim = time->shape[0];
        s.head_dim = qnorm->shape[0];
        s.heads = s.head_dim > 0 ? s.hidden / s.head_dim : 0;
        s.text_dim = text->shape[1];
        s.out_dim = proj_out->shape[0];
        s.layers = ckptconv::sdk::count_layers(index, root, KeyPattern("transformer_blocks.{i}."));
        if (proj->shape.size() == 4) {
            s.version = "1.0";
            s.in_channels = proj->shape[1];
        } else if (proj->shape.size() == 2 && proj->shape[1] % 8 == 0) {
            s.version = "1.5";
            s.in_channels = proj->shape[1] / 8;
        } else {
            continue;
        }
        if (const TensorView* pos = index.find(p, "patch_embed.pos_embedding")) {
            s.learned_pos_embedding = true;
            s.pos_embedding_shape = pos->shape;
        }
        if (const TensorView* ofs = index.find(p, "ofs_embedding.linear_1.weight"); ofs && ofs->shape.size() == 2) {
            s.ofs_embedding = true;
            s.ofs_dim = ofs->shape[1];
        }
        s.variant = name_variant(s);
        const bool consistent = s.out_dim == (s.version == "1.0" ? 64 : 128) && s.heads * s.head_dim == s.hidden;
        out.detection =
            Detection{consistent ? CKPTCONV_SCORE_CERTAIN : CKPTCONV_SCORE_PLAUSIBLE, s.version, s.variant, "diffusers",
                      "CogVideoX " + s.version + " transformer already under diffusers names in root '" + p +
                          "' (a CogVideo finetune/ save): D=" + std::to_string(s.hidden) + ", " +
                          std::to_string(s.layers) + " layers; config.json from the shapes"};
        out.shape = s;
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
            const TensorView* proj = index.find(p, prefix + kPatchProj);
            const TensorView* time = index.find(p, prefix + kTimeEmbed);
            const TensorView* qkv = index.find(p, prefix + kQkv0);
            if (!qkv) qkv = index.find(p, prefix + kLoraQkv0);
            const TensorView* adaln = index.find(p, prefix + kAdaLn0);
            const TensorView* qnorm = index.find(p, prefix + kQNorm0);
            const TensorView* final_linear = index.find(p, prefix + kFinalLinear);
            const TensorView* text = index.find(p, prefix + kTextProj);
            if (!proj || !time || !qkv || !adaln || !qnorm || !final_linear || !text) continue;

            SatTransformerShape s;
            s.root = p;
            s.prefix = prefix;
            if (time->shape.size() != 2 || qnorm->shape.size() != 1 || text->shape.size() != 2 ||
                final_linear->shape.size() != 2) {
                out.detection =
                    Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                              "SAT CogVideoX key layout, but unexpected ranks in time/norm/projection weights"};
                continue;
            }
            s.hidden = time->shape[1];
            s.time_embed_dim = time->shape[0];
            s.head_dim = qnorm->shape[0];
            s.heads = s.head_dim > 0 ? s.hidden / s.head_dim : 0;
            s.text_dim = text->shape[1];
            s.out_dim = final_linear->shape[0];
            s.layers = ckptconv::sdk::count_layers(index, root, KeyPattern(prefix + "transformer.layers.{i}."));
            if (proj->shape.size() == 4) {
                s.version = "1.0";
                s.in_channels = proj->shape[1];
            } else if (proj->shape.size() == 2 && proj->shape[1] % 8 == 0) {
                s.version = "1.5";
                s.in_channels = proj->shape[1] / 8;
            } else {
                out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                                          "SAT CogVideoX key layout, but patch_embed.proj.weight has shape " +
                                              ckptconv::sdk::shape_string(proj->shape)};
                continue;
            }
            if (const TensorView* pos = index.find(p, prefix + "mixins.pos_embed.pos_embedding")) {
                s.learned_pos_embedding = true;
                s.pos_embedding_shape = pos->shape;
            }
            if (const TensorView* ofs = index.find(p, prefix + "ofs_embed.0.weight"); ofs && ofs->shape.size() == 2) {
                s.ofs_embedding = true;
                s.ofs_dim = ofs->shape[1];
            }
            for (const TensorView* t : index.tensors_of(root)) {
                if (t->key.find(".original.") != std::string_view::npos ||
                    t->key.find(".matrix_A.") != std::string_view::npos) {
                    s.lora = true;
                    break;
                }
            }
            s.variant = name_variant(s);
            if (s.lora) s.variant += "+lora";

            // Cross-checks that tell 1.0 from 1.5 a second way: out dim 16*p*p (*p_t).
            const int64_t expected_out = s.version == "1.0" ? 64 : 128;
            const bool consistent = s.out_dim == expected_out && s.heads * s.head_dim == s.hidden && s.layers > 0 &&
                                    proj->shape[0] == s.hidden;
            std::string reason = "SAT CogVideoX " + s.version + " transformer under '" + p + (p.empty() ? "" : "/") +
                                 prefix + "': D=" + std::to_string(s.hidden) + ", " + std::to_string(s.layers) +
                                 " layers, " + std::to_string(s.heads) +
                                 " heads, in_channels=" + std::to_string(s.in_channels) + ", patch embed " +
                                 ckptconv::sdk::shape_string(proj->shape);
            if (s.lora) reason += "; SAT LoRA wrapper keys present";
            if (!consistent) reason += "; shapes disagree (out dim " + std::to_string(s.out_dim) + ")";
            // Certain: fingerprint, version and a rule set registered for it (rules_cogvideox_sat).
            out.detection = Detection{consistent ? CKPTCONV_SCORE_CERTAIN : CKPTCONV_SCORE_PLAUSIBLE, s.version,
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
