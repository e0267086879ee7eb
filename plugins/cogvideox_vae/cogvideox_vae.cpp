// cogvideox_vae: SAT CogVideoX VAE checkpoints -> diffusers AutoencoderKLCogVideoX.
#include "detect_cogvideox_vae.hpp"
#include "rules_cogvideox_vae.hpp"

#include <ckptconv/sdk.hpp>

namespace cogvideox_vae {

struct CogVideoXVaePlugin {
    static constexpr const char* kId = "cogvideox_vae";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "CogVideoX SAT VAE (3d-vae.pt) -> diffusers (--option variant=...)";
    static constexpr const char* kFormatVersions[] = {"1.0", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_cogvideox_vae(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
              ckptconv::sdk::Plan& plan) const {
        const VaeDetection found = detect_cogvideox_vae(index);
        if (found.shape.block_channels.empty())
            throw ckptconv::sdk::invalid_data("no SAT CogVideoX VAE found: " + found.detection.reason);
        plan_cogvideox_vae(found.shape, index, request, plan);
    }
};

} // namespace cogvideox_vae

CKPTCONV_PLUGIN(cogvideox_vae::CogVideoXVaePlugin, cogvideox_vae)
