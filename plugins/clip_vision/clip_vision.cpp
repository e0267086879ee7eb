// clip_vision: CLIP vision towers between Hugging Face names and DeepSeek-OCR's fused-qkv DeepEncoder layout.
#include "detect_clip_vision.hpp"
#include "rules_clip_vision.hpp"

#include <ckptconv/sdk.hpp>

namespace clip_vision {

struct ClipVisionPlugin {
    static constexpr const char* kId = "clip_vision";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription =
        "CLIP vision tower: Hugging Face (CLIPModel, CLIPVisionModel) <-> DeepEncoder fused qkv_proj";
    static constexpr const char* kFormatVersions[] = {"hf", "deepencoder", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_clip_vision(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
              ckptconv::sdk::Plan& plan) const {
        const ClipDetection found = detect_clip_vision(index);
        if (found.tower.hidden == 0)
            throw ckptconv::sdk::invalid_data("no CLIP vision tower found: " + found.detection.reason);
        plan_clip_vision(found.tower, index, request, plan);
    }
};

} // namespace clip_vision

CKPTCONV_PLUGIN(clip_vision::ClipVisionPlugin, clip_vision)
