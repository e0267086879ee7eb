#include "detect_clip_vision.hpp"

namespace clip_vision {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::TensorView;

// First-layer attention keys, relative to the tower prefix: what tells the two layouts apart.
constexpr const char* kHfAnchor = "encoder.layers.0.self_attn.q_proj.weight";
constexpr const char* kFusedAnchor = "transformer.layers.0.self_attn.qkv_proj.weight";

std::string name_variant(const ClipTower& t) {
    if (t.hidden == 768 && t.layers == 12 && t.patch == 32 && t.positions == 50) return "vit-b-32";
    if (t.hidden == 768 && t.layers == 12 && t.patch == 16 && t.positions == 197) return "vit-b-16";
    if (t.hidden == 1024 && t.layers == 24 && t.patch == 14 && t.positions == 257) return "vit-l-14";
    if (t.hidden == 1024 && t.layers == 24 && t.patch == 14 && t.positions == 577) return "vit-l-14-336";
    return "custom";
}

/** Fills `t` from the tower's shapes; an empty string when they agree, else what is off. */
std::string read_tower(const IndexView& index, ClipTower& t) {
    const std::string& r = t.root;
    const std::string& p = t.tower;
    const TensorView* patch = index.find(r, p + "embeddings.patch_embedding.weight");
    const TensorView* pos = index.find(r, p + "embeddings.position_embedding.weight");
    const TensorView* cls = index.find(r, p + "embeddings.class_embedding");
    const TensorView* pre = index.find(r, p + "pre_layrnorm.weight");
    if (!patch || !pos || !cls || !pre) return "no embeddings.{patch,position,class}_embedding or pre_layrnorm";
    if (patch->shape.size() != 4 || pos->shape.size() != 2 || cls->shape.size() != 1)
        return "patch_embedding " + ckptconv::sdk::shape_string(patch->shape) + " is not a Conv2d weight";
    t.hidden = patch->dim(0);
    t.channels = patch->dim(1);
    t.patch = patch->dim(2);
    t.positions = pos->dim(0);
    t.dtype = pre->dtype;
    t.position_ids = index.find(r, p + "embeddings.position_ids") != nullptr;
    const bool hf = t.layout == TowerLayout::HuggingFace;
    const std::string layer = hf ? "encoder.layers." : "transformer.layers.";
    t.layers = ckptconv::sdk::count_layers(index, *index.root(r), KeyPattern(p + layer + "{i}."));
    const TensorView* fc1 = index.find(r, p + layer + "0.mlp.fc1.weight");
    t.mlp = fc1 ? fc1->dim(0) : 0;
    const TensorView* attn = index.find(r, p + layer + "0.self_attn." + (hf ? "q_proj" : "qkv_proj") + ".weight");
    const int64_t rows = hf ? t.hidden : 3 * t.hidden;
    if (!attn || attn->shape != ckptconv::sdk::Shape{rows, t.hidden})
        return std::string(hf ? "q_proj" : "qkv_proj") + " weight is not [" + std::to_string(rows) + ", " +
               std::to_string(t.hidden) + "] for width " + std::to_string(t.hidden);
    if (cls->dim(0) != t.hidden || pos->dim(1) != t.hidden)
        return "class/position embeddings do not have the patch embedding's width " + std::to_string(t.hidden);
    t.text_tower = index.find(r, model_prefix(t) + "text_model.embeddings.token_embedding.weight") != nullptr;
    t.variant = name_variant(t);
    return {};
}

} // namespace

std::string model_prefix(const ClipTower& t) {
    const std::string_view module = "vision_model.";
    return ckptconv::sdk::ends_with(t.tower, module) ? t.tower.substr(0, t.tower.size() - module.size()) : t.tower;
}

ClipDetection detect_clip_vision(const IndexView& index) {
    ClipDetection out;
    out.detection = Detection::no("no CLIP vision tower (encoder.layers.N.self_attn.q_proj or "
                                  "transformer.layers.N.self_attn.qkv_proj beside pre_layrnorm)");
    for (const TensorView& t : index.tensors()) {
        ClipTower tower;
        std::string_view anchor;
        if (ckptconv::sdk::ends_with(t.key, kHfAnchor)) {
            anchor = kHfAnchor;
        } else if (ckptconv::sdk::ends_with(t.key, kFusedAnchor)) {
            anchor = kFusedAnchor;
            tower.layout = TowerLayout::DeepEncoder;
        } else {
            continue;
        }
        tower.root = std::string(t.root);
        tower.tower = std::string(t.key.substr(0, t.key.size() - anchor.size()));
        // A text tower has encoder layers too, but no pre_layrnorm: only a vision tower is anchored here.
        if (!index.find(tower.root, tower.tower + "pre_layrnorm.weight")) continue;
        const std::string problem = read_tower(index, tower);
        const bool hf = tower.layout == TowerLayout::HuggingFace;
        if (!problem.empty()) {
            out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                                      "CLIP vision tower keys under '" + tower.tower + "', but " + problem};
            continue;
        }
        const std::string what =
            (hf ? std::string(tower.text_tower ? "Hugging Face CLIPModel" : "Hugging Face CLIP vision tower")
                : std::string("DeepEncoder (fused qkv_proj) CLIP vision tower")) +
            " under '" + tower.tower + "' in root '" + tower.root + "': width " + std::to_string(tower.hidden) + ", " +
            std::to_string(tower.layers) + " layers, patch " + std::to_string(tower.patch) + ", " +
            std::to_string(tower.positions) + " positions" + (tower.position_ids ? ", with position_ids" : "");
        out.detection = Detection{CKPTCONV_SCORE_CERTAIN, hf ? "hf" : "deepencoder", tower.variant,
                                  hf ? "deepencoder" : "hf", what};
        out.tower = tower;
        return out;
    }
    return out;
}

} // namespace clip_vision
