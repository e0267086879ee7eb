// SAT VAE -> diffusers AutoencoderKLCogVideoX: renames, decoder level flip, target spec and config.
#pragma once

#include "detect_cogvideox_vae.hpp"

#include <cogvideox_family/model_values.hpp>

#include <string>
#include <vector>

namespace cogvideox_vae {

/** The diffusers VAE keys and shapes in state_dict() order, built from the architecture (436 at full size). */
std::vector<ckptconv::sdk::TargetKey> diffusers_vae_keys(const SatVaeShape& shape);

/** vae/config.json as diffusers writes it. */
std::string diffusers_vae_config(const SatVaeShape& shape, const cogvideox_family::ModelValues& values);

void plan_cogvideox_vae(const SatVaeShape& shape, const ckptconv::sdk::IndexView& index,
                        const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace cogvideox_vae
