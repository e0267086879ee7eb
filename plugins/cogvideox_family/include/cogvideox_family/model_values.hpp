// The values of a CogVideoX release that its weights do not carry (cogvideox.md 1, 6.4, 7):
// the VAE latent scaling and the scheduler's SNR shift. Shared by cogvideox_sat and cogvideox_vae.
#pragma once

#include <string>
#include <utility>

namespace cogvideox_family {

struct ModelValues {
    const char* name;               ///< 2b, 5b or 1.5
    const char* vae_scaling_factor; ///< as Python's json writes it
    bool invert_scale_latents;
    const char* snr_shift_scale;
    bool rotary; ///< the transformer's use_rotary_positional_embeddings (2B: sin-cos only)
};

inline constexpr ModelValues kModelValues[] = {
    {"2b", "1.15258426", false, "3.0", false}, {"5b", "0.7", false, "1.0", true}, {"1.5", "0.7", true, "1.0", true}};

/** The values for `variant`: 2b, 5b, 1.5, or one of cogvideox_sat's detected variant names; nullptr if neither. */
inline const ModelValues* model_values(const std::string& variant) {
    static constexpr std::pair<const char*, const char*> kAliases[] = {
        {"5b-i2v", "5b"}, {"1.5-5b", "1.5"}, {"1.5-5b-i2v", "1.5"}, {"2B", "2b"}, {"5B", "5b"}};
    std::string name = variant;
    for (const auto& [alias, target] : kAliases)
        if (variant == alias) name = target;
    for (const auto& v : kModelValues)
        if (name == v.name) return &v;
    return nullptr;
}

/** How to choose, for error messages. */
inline std::string model_value_choices() {
    return "pass --option variant=2b (VAE scaling_factor 1.15258426, scheduler snr_shift_scale 3.0), variant=5b "
           "(0.7, 1.0) or variant=1.5 (0.7 with invert_scale_latents, 1.0)";
}

/**
 * The variant a plan should use: the user's --option variant, else what
 * cogvideox_sat detected in the same pipeline folder (pipeline.cogvideox_sat.variant).
 */
template <class Request> std::string chosen_variant(const Request& request) {
    return request.option("variant", request.option("pipeline.cogvideox_sat.variant"));
}

} // namespace cogvideox_family
