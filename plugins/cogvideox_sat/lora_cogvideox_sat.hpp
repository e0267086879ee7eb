// SAT LoRA fine-tunes of CogVideoX (training-saves.md 2): the LoraMixin layout read and checked,
// exported as a diffusers LoRA adapter or merged into the base weights.
#pragma once

#include "detect_cogvideox_sat.hpp"

#include <ckptconv/sdk.hpp>

#include <map>
#include <string>

namespace cogvideox_sat {

/** One LoRA'd linear of a layer: `parts` (3 for query_key_value, 1 for dense) pairs of A [r, in], B [out/p, r]. */
struct LoraLinear {
    std::string base;  ///< key prefix up to ".original.", e.g. "...layers.3.attention.dense."
    int64_t parts = 0; ///< partitions: Q, K, V or the one dense
};

/** Every LoRA'd linear of a SAT LoRA save, checked against the attention width; r is the rank of all. */
struct LoraLayout {
    std::map<std::string, LoraLinear> linears; ///< by base prefix (relative to the SAT prefix)
    int64_t rank = 0;
    double alpha = 1.0;     ///< --option lora_alpha, else training_config.yaml, else SAT's default 1
    std::string alpha_from; ///< which of those, for the report
    double scale() const { return alpha / static_cast<double>(rank); }
};

/**
 * Reads and checks the LoRA layout: every `.original.` linear has its matrix_A/B
 * pairs of one rank, shaped for the attention width. invalid_data (exit 5) naming
 * the key otherwise.
 */
LoraLayout read_lora_layout(const SatTransformerShape& s, const ckptconv::sdk::IndexView& index,
                            const ckptconv::sdk::PlanRequest& request);

/** The diffusers LoRA adapter (pytorch_lora_weights.safetensors): every other tensor dropped with a reason. */
void plan_lora_adapter(const SatTransformerShape& s, const LoraLayout& lora, const ckptconv::sdk::IndexView& index,
                       ckptconv::sdk::Plan& plan);

/**
 * For the merge: `x` (a source weight of `key` relative to the SAT prefix, or one
 * Q/K/V piece `part` of it) plus its LoRA update; `x` unchanged for biases and for
 * linears without LoRA.
 */
ckptconv::sdk::Expr merged(const LoraLayout& lora, const SatTransformerShape& s, const std::string& key,
                           ckptconv::sdk::Expr x, int64_t part, ckptconv::sdk::Plan& plan);

} // namespace cogvideox_sat
