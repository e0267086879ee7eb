// SAT VAE -> diffusers AutoencoderKLCogVideoX: renames, decoder level flip, target spec and config.
#pragma once

#include "detect_cogvideox_vae.hpp"

#include <string>
#include <vector>

namespace cogvideox_vae {

/** What the VAE config takes from the model the VAE belongs to (cogvideox.md 1, 6.4). */
struct VaeVariant {
    const char* name;
    const char* scaling_factor; ///< as Python's json writes it
    bool invert_scale_latents;
};

/** The variant for --option variant=V (2b, 5b, 1.5, or a cogvideox_sat variant name), or nullptr. */
const VaeVariant* vae_variant(const std::string& option);

/** The diffusers VAE keys and shapes in state_dict() order, built from the architecture (436 at full size). */
std::vector<ckptconv::sdk::TargetKey> diffusers_vae_keys(const SatVaeShape& shape);

/** vae/config.json as diffusers writes it. */
std::string diffusers_vae_config(const SatVaeShape& shape, const VaeVariant& variant);

void plan_cogvideox_vae(const SatVaeShape& shape, const ckptconv::sdk::IndexView& index,
                        const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace cogvideox_vae
