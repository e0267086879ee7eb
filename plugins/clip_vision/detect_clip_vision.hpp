// Fingerprint of a CLIP vision tower: Hugging Face names (CLIPModel, CLIPVisionModel)
// or the fused-qkv DeepEncoder layout of DeepSeek-OCR (families.md C, F).
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace clip_vision {

enum class TowerLayout { HuggingFace, DeepEncoder };

/** What the weights say about the tower; every size read from shapes. */
struct ClipTower {
    TowerLayout layout = TowerLayout::HuggingFace;
    std::string root;   ///< state-dict root holding it
    std::string tower;  ///< key prefix of the tower's modules, e.g. "vision_model." or "model.vision_model."
    int64_t hidden = 0; ///< D
    int64_t layers = 0;
    int64_t mlp = 0;       ///< F, fc1 rows
    int64_t patch = 0;     ///< patch_embedding kernel size
    int64_t channels = 0;  ///< image channels
    int64_t positions = 0; ///< position_embedding rows (patches + 1)
    uint32_t dtype = 0;    ///< of pre_layrnorm.weight: what a created LayerNorm is stored as
    bool position_ids = false;
    bool text_tower = false; ///< a full CLIPModel (text_model.* beside the vision tower)
    std::string variant;     ///< vit-b-32, vit-b-16, vit-l-14, vit-l-14-336 or custom
};

struct ClipDetection {
    ckptconv::sdk::Detection detection;
    ClipTower tower; ///< empty root when nothing was recognised
};

/** The prefix of the model holding the tower: "" for "vision_model.", "model." for "model.vision_model.". */
std::string model_prefix(const ClipTower& tower);

/** 100 for either layout with consistent shapes; format version "hf" or "deepencoder" names the source layout. */
ClipDetection detect_clip_vision(const ckptconv::sdk::IndexView& index);

} // namespace clip_vision
