// cogvideox_sat: SAT CogVideoX transformer checkpoints -> diffusers.
#include "detect_cogvideox_sat.hpp"

#include <ckptconv/sdk.hpp>

namespace cogvideox_sat {

struct CogVideoXSatPlugin {
    static constexpr const char* kId = "cogvideox_sat";
    static constexpr const char* kVersion = "0.1.0";
    static constexpr const char* kDescription = "CogVideoX SAT transformer (1.0, 1.5) -> diffusers";
    static constexpr const char* kFormatVersions[] = {"1.0", "1.5", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_cogvideox_sat(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView&, const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan&) const {
        throw ckptconv::sdk::unsupported("cogvideox_sat " + std::string(kVersion) + " recognises format " +
                                         request.format_version + " but has no conversion rules yet");
    }
};

} // namespace cogvideox_sat

CKPTCONV_PLUGIN(cogvideox_sat::CogVideoXSatPlugin, cogvideox_sat)
