// CLIP vision tower: Hugging Face names <-> DeepEncoder's fused-qkv layout (families.md C.2).
#pragma once

#include "detect_clip_vision.hpp"

#include <string>
#include <vector>

namespace clip_vision {

/**
 * The target layout's keys and shapes in its state_dict() order, under `prefix`:
 * DeepEncoder (`transformer.layers.N.self_attn.qkv_proj`) or HF (`vision_model.`
 * + `encoder.layers.N.self_attn.{k,v,q}_proj` + `post_layernorm` when `post_layernorm`).
 */
std::vector<ckptconv::sdk::TargetKey> tower_keys(const ClipTower& tower, TowerLayout layout, const std::string& prefix,
                                                 bool position_ids, bool post_layernorm);

/**
 * HF -> DeepEncoder (format version "hf"): q/k/v concatenated into qkv_proj,
 * encoder. -> transformer., post_layernorm, projections and the text tower
 * dropped with reasons; keys under --option prefix (default none).
 * DeepEncoder -> HF ("deepencoder"): qkv_proj split in three, keys under
 * vision_model., post_layernorm created as CLIPVisionModel initialises it
 * unless --option post_layernorm=omit; siblings of the tower in a DeepSeek-OCR
 * checkpoint dropped. --option position_ids=auto|keep|create|drop: auto (the
 * default) keeps or creates it for DeepEncoder, which persists it, and drops it
 * for transformers, which has not since 4.31.
 */
void plan_clip_vision(const ClipTower& tower, const ckptconv::sdk::IndexView& index,
                      const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace clip_vision
