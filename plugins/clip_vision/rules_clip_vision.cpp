#include "rules_clip_vision.hpp"

#include <array>
#include <map>

namespace clip_vision {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::Shape;
using ckptconv::sdk::TargetKey;

const std::array<const char*, 3> kQkv = {"q_proj", "k_proj", "v_proj"}; // qkv_proj rows, in this order

/** Why a key of a CLIP checkpoint outside the vision tower is not converted. */
std::string outside_reason(const std::string& relative) {
    if (ckptconv::sdk::starts_with(relative, "text_model.")) return "CLIP text tower: not part of the vision tower";
    if (relative == "visual_projection.weight" || relative == "text_projection.weight" || relative == "logit_scale")
        return "CLIP contrastive head: not part of the vision tower";
    return {};
}

Expr position_ids(ckptconv::sdk::Plan& plan, int64_t positions) {
    std::vector<int64_t> values(static_cast<size_t>(positions));
    for (int64_t i = 0; i < positions; ++i) values[static_cast<size_t>(i)] = i;
    return plan.constant({1, positions}, CKPTCONV_DTYPE_I64, values.data(), values.size() * sizeof(int64_t));
}

// config.json of a transformers CLIPVisionModel folder (--to hf): sizes from the weights, heads from the
// release table (ViT-B 12, ViT-L 16; DeepEncoder's tower is a CLIP-L) or --option heads, image size from
// the position rows (one per patch plus the class token).
std::string transformers_config(const ClipTower& t, const ckptconv::sdk::PlanRequest& request, bool post_layernorm) {
    using ckptconv::sdk::json_string;
    const int64_t preset = t.hidden == 1024 ? 16 : t.hidden == 768 ? 12 : 0;
    const int64_t heads =
        ckptconv::sdk::attention_heads(request, t.variant == "custom" ? 0 : preset, t.hidden, t.variant);
    int64_t side = 0;
    while ((side + 1) * (side + 1) <= t.positions - 1) ++side;
    if (side * side != t.positions - 1)
        throw ckptconv::sdk::invalid_data(std::to_string(t.positions) +
                                          " position rows are no square grid of patches plus the class token");
    if (!post_layernorm)
        throw ckptconv::sdk::invalid_data(
            "a transformers CLIPVisionModel always has post_layernorm: --option post_layernorm=omit needs --to pt");
    return ckptconv::sdk::json_object({{"architectures", ckptconv::sdk::json_array({json_string("CLIPVisionModel")})},
                                       {"attention_dropout", "0.0"},
                                       {"dropout", "0.0"},
                                       {"hidden_act", json_string("quick_gelu")},
                                       {"hidden_size", std::to_string(t.hidden)},
                                       {"image_size", std::to_string(side * t.patch)},
                                       {"initializer_factor", "1.0"},
                                       {"initializer_range", "0.02"},
                                       {"intermediate_size", std::to_string(t.mlp)},
                                       {"layer_norm_eps", "1e-05"},
                                       {"model_type", json_string("clip_vision_model")},
                                       {"num_attention_heads", std::to_string(heads)},
                                       {"num_channels", std::to_string(t.channels)},
                                       {"num_hidden_layers", std::to_string(t.layers)},
                                       {"patch_size", std::to_string(t.patch)}});
}

} // namespace

std::vector<TargetKey> tower_keys(const ClipTower& t, TowerLayout layout, const std::string& prefix,
                                  bool with_position_ids, bool post_layernorm) {
    const int64_t D = t.hidden;
    const bool hf = layout == TowerLayout::HuggingFace;
    std::vector<TargetKey> k;
    auto linear = [&](const std::string& name, int64_t out, int64_t in) {
        k.push_back({name + ".weight", {out, in}});
        k.push_back({name + ".bias", {out}});
    };
    auto norm = [&](const std::string& name) {
        k.push_back({name + ".weight", {D}});
        k.push_back({name + ".bias", {D}});
    };
    k.push_back({prefix + "embeddings.class_embedding", {D}});
    k.push_back({prefix + "embeddings.patch_embedding.weight", {D, t.channels, t.patch, t.patch}});
    k.push_back({prefix + "embeddings.position_embedding.weight", {t.positions, D}});
    if (with_position_ids) k.push_back({prefix + "embeddings.position_ids", {1, t.positions}});
    norm(prefix + "pre_layrnorm");
    for (int64_t i = 0; i < t.layers; ++i) {
        const std::string b = prefix + (hf ? "encoder.layers." : "transformer.layers.") + std::to_string(i) + ".";
        if (hf) { // CLIPEncoderLayer / CLIPAttention declaration order
            for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) linear(b + "self_attn." + proj, D, D);
            norm(b + "layer_norm1");
            linear(b + "mlp.fc1", t.mlp, D);
            linear(b + "mlp.fc2", D, t.mlp);
            norm(b + "layer_norm2");
        } else {
            norm(b + "layer_norm1");
            linear(b + "self_attn.qkv_proj", 3 * D, D);
            linear(b + "self_attn.out_proj", D, D);
            norm(b + "layer_norm2");
            linear(b + "mlp.fc1", t.mlp, D);
            linear(b + "mlp.fc2", D, t.mlp);
        }
    }
    if (hf && post_layernorm) norm(prefix + "post_layernorm");
    return k;
}

void plan_clip_vision(const ClipTower& t, const ckptconv::sdk::IndexView& index,
                      const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    const bool to_hf = request.format_version == "deepencoder";
    if (!to_hf && request.format_version != "hf")
        throw ckptconv::sdk::unsupported("no rules for format version '" + request.format_version +
                                         "' (known: hf, deepencoder)");
    if ((t.layout == TowerLayout::DeepEncoder) != to_hf)
        throw ckptconv::sdk::invalid_data(
            "format version " + request.format_version + " was forced, but the tower under '" + t.tower + "' has the " +
            (to_hf ? "Hugging Face" : "DeepEncoder") + " layout (" +
            (to_hf ? "encoder.layers.N.self_attn.q_proj" : "transformer.layers.N.self_attn.qkv_proj") + ")");
    // embeddings.position_ids is a buffer: DeepEncoder persists it (a strict load needs it), transformers
    // >= 4.31 does not (a saved CLIPVisionModel has none). "auto" gives each target what it persists.
    std::string ids = request.one_of("position_ids", "auto", {"auto", "keep", "create", "drop"});
    const bool chosen = ids != "auto";
    if (!chosen) ids = to_hf ? "drop" : "create";
    const bool post_layernorm = request.one_of("post_layernorm", "create", {"create", "omit"}) == "create";
    const std::string out_prefix = to_hf ? "vision_model." : request.option("prefix");
    const bool with_ids = ids == "create" || (ids == "keep" && t.position_ids);

    const KeyPattern hf_attn("encoder.layers.{i}.self_attn.{proj}.{wb}");
    const KeyPattern fused_attn("transformer.layers.{i}.self_attn.qkv_proj.{wb}");
    const KeyPattern hf_layer("encoder.layers.{i}.{*rest}");
    const KeyPattern fused_layer("transformer.layers.{i}.{*rest}");
    const std::string parent = model_prefix(t);
    std::map<std::string, std::array<Expr, 3>> qkv; // HF -> fused: "i.wb" -> q, k, v
    std::map<std::string, Expr> outputs;
    plan.model_root(t.root); // the rest of a training save (a Lightning .ckpt) is training state
    for (const auto* tensor : index.tensors_of(*index.root(t.root))) {
        const std::string key(tensor->key);
        if (!ckptconv::sdk::starts_with(key, t.tower)) {
            const std::string relative = ckptconv::sdk::starts_with(key, parent) ? key.substr(parent.size()) : key;
            if (std::string why = outside_reason(relative); !why.empty())
                plan.drop(t.root, key, why);
            else if (to_hf)
                plan.drop(t.root, key,
                          "outside the CLIP vision tower (in DeepSeek-OCR: SAM encoder, projector, "
                          "language model)");
            continue; // anything else stays unmapped, and the plan check names it
        }
        const std::string k = key.substr(t.tower.size());
        if (k == "embeddings.position_ids") {
            if (ids == "keep" || (ids == "create" && !chosen))
                outputs[out_prefix + k] = plan.source(t.root, key);
            else if (chosen)
                plan.drop(t.root, key, "--option position_ids=" + ids + " (an arange buffer, not a weight)");
            else
                plan.drop(t.root, key,
                          "a buffer transformers >= 4.31 does not persist: CLIPVisionModel's own files lack it "
                          "(--option position_ids=keep writes it)");
            continue;
        }
        if (ckptconv::sdk::starts_with(k, "post_layernorm.")) {
            plan.drop(t.root, key,
                      "CLIP's final LayerNorm: the DeepEncoder tower has none (it feeds the pooled "
                      "output, which DeepEncoder does not use)");
            continue;
        }
        Expr x = plan.source(t.root, key);
        if (auto c = to_hf ? std::nullopt : hf_attn.match(k); c && (*c)["proj"] != "out_proj") {
            for (size_t j = 0; j < kQkv.size(); ++j)
                if ((*c)["proj"] == kQkv[j]) qkv[(*c)["i"] + "." + (*c)["wb"]][j] = x;
        } else if (auto f = to_hf ? fused_attn.match(k) : std::nullopt) {
            const std::string b = out_prefix + "encoder.layers." + (*f)["i"] + ".self_attn.";
            for (size_t j = 0; j < kQkv.size(); ++j)
                outputs[b + kQkv[j] + "." + (*f)["wb"]] = plan.chunk(x, 3, static_cast<int64_t>(j));
        } else if (auto l = (to_hf ? fused_layer : hf_layer).match(k)) {
            outputs[out_prefix + (to_hf ? "encoder.layers." : "transformer.layers.") + (*l)["i"] + "." + (*l)["rest"]] =
                x;
        } else {
            outputs[out_prefix + k] = x; // embeddings.*, pre_layrnorm.*
        }
    }
    for (const auto& [where, parts] : qkv) {
        const std::string i = where.substr(0, where.find('.'));
        const std::string wb = where.substr(where.find('.') + 1);
        for (size_t j = 0; j < kQkv.size(); ++j)
            if (parts[j].handle < 0)
                throw ckptconv::sdk::invalid_data("layer " + i + " has no " + t.tower + "encoder.layers." + i +
                                                  ".self_attn." + kQkv[j] + "." + wb + " to fuse into qkv_proj");
        outputs[out_prefix + "transformer.layers." + i + ".self_attn.qkv_proj." + wb] =
            plan.cat({parts[0], parts[1], parts[2]});
    }
    if (ids == "create" && !outputs.count(out_prefix + "embeddings.position_ids")) {
        outputs[out_prefix + "embeddings.position_ids"] = position_ids(plan, t.positions);
        if (!chosen)
            plan.note(out_prefix + "embeddings.position_ids created as int64 arange(" + std::to_string(t.positions) +
                      "): DeepEncoder persists this buffer and a strict load needs it; the source (transformers "
                      ">= 4.31) does not save it (--option position_ids=drop omits it)");
    }
    if (!to_hf && !with_ids)
        plan.note("no embeddings.position_ids: DeepEncoder registers it as a persistent buffer, so load with "
                  "strict=False or pass --option position_ids=create");
    if (to_hf && post_layernorm) {
        outputs["vision_model.post_layernorm.weight"] = plan.full({t.hidden}, t.dtype, 1.0);
        outputs["vision_model.post_layernorm.bias"] = plan.full({t.hidden}, t.dtype, 0.0);
        plan.note("vision_model.post_layernorm created as CLIPVisionModel initialises it (weight 1, bias 0): the "
                  "DeepEncoder tower has none, so pooler_output is not the original model's");
    }
    ckptconv::sdk::emit_in_target_order(plan, "",
                                        tower_keys(t, to_hf ? TowerLayout::HuggingFace : TowerLayout::DeepEncoder,
                                                   out_prefix, with_ids, post_layernorm),
                                        std::move(outputs));
    if (to_hf && request.output_format == "hf") {
        plan.file("config.json", transformers_config(t, request, post_layernorm));
        plan.note("transformers model folder: config.json and model.safetensors; CLIPVisionModel.from_pretrained "
                  "needs nothing else (an image processor's preprocessor_config.json is separate)");
    }
    plan.target(to_hf ? "hf" : "deepencoder");
    plan.keep_extras(false);
}

} // namespace clip_vision
