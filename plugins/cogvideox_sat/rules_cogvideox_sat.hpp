// SAT CogVideoX transformer -> diffusers CogVideoXTransformer3DModel, rules per format version.
#pragma once

#include "detect_cogvideox_sat.hpp"

#include <ckptconv/sdk.hpp>

#include <string>
#include <utility>
#include <vector>

namespace cogvideox_sat {

/** What differs between the format versions (cogvideox.md sections 4.5 and 5). */
struct VersionRules {
    const char* version;
    bool patch_bias;      ///< Conv2d patch embed bias flag in the config (1.5's Linear always has one)
    int64_t patch_size_t; ///< 0 = none (null in the config)
    int64_t sample_frames;
    int64_t sample_height;
    int64_t sample_width;
    bool ofs_embedding_allowed;
};

/** The rules registered for `format_version`, or nullptr. */
const VersionRules* rules_for(const std::string& format_version);

/** The diffusers keys and shapes for this model, in state_dict() order (sharding depends on it). */
std::vector<std::pair<std::string, ckptconv::sdk::Shape>> diffusers_transformer_keys(const SatTransformerShape& s,
                                                                                     bool learned_pos_embedding);

/** transformer/config.json exactly as diffusers writes it: sorted keys, indent 2, trailing newline. */
std::string diffusers_transformer_config(const SatTransformerShape& s, const VersionRules& rules,
                                         bool learned_pos_embedding, bool rotary);

/** Builds the whole plan (outputs, drops with reasons, target spec, config.json). */
void plan_cogvideox_sat(const SatTransformerShape& shape, const ckptconv::sdk::IndexView& index,
                        const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace cogvideox_sat
