// Fingerprint of a SAT CogVideoX VAE (3d-vae.pt, or first_stage_model.* inside a SAT fine-tune dump).
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>
#include <vector>

namespace cogvideox_vae {

/** The architecture as the weights give it (cogvideox.md 6.1). */
struct SatVaeShape {
    std::string root;                    ///< root holding the weights ("state_dict", "module", ...)
    std::string prefix;                  ///< "" or "first_stage_model."
    std::vector<int64_t> block_channels; ///< output channels of each encoder level
    int64_t layers_per_block = 0;        ///< resnets per encoder level (the decoder has one more)
    int64_t in_channels = 0;
    int64_t out_channels = 0;
    int64_t latent_channels = 0;
};

struct VaeDetection {
    ckptconv::sdk::Detection detection;
    SatVaeShape shape; ///< empty root when not recognised
};

VaeDetection detect_cogvideox_vae(const ckptconv::sdk::IndexView& index);

} // namespace cogvideox_vae
