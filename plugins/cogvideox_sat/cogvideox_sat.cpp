// cogvideox_sat: SAT CogVideoX transformer checkpoints -> diffusers.
#include "detect_cogvideox_sat.hpp"
#include "pipeline_cogvideox_sat.hpp"
#include "rules_cogvideox_sat.hpp"

#include <ckptconv/sdk.hpp>

namespace cogvideox_sat {

struct CogVideoXSatPlugin {
    static constexpr const char* kId = "cogvideox_sat";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "CogVideoX SAT transformer (1.0, 1.5) -> diffusers";
    static constexpr const char* kFormatVersions[] = {"1.0", "1.5", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_cogvideox_sat(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
              ckptconv::sdk::Plan& plan) const {
        const SatDetection found = detect_cogvideox_sat(index);
        if (found.shape.version.empty())
            throw ckptconv::sdk::invalid_data("no SAT CogVideoX transformer found: " + found.detection.reason);
        plan_cogvideox_sat(found.shape, index, request, plan);
        if (request.has_option("pipeline.plugins")) plan_pipeline_files(found.shape, request, plan);
    }
};

} // namespace cogvideox_sat

CKPTCONV_PLUGIN(cogvideox_sat::CogVideoXSatPlugin, cogvideox_sat)
