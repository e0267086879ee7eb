// deltalm_fairseq: DeltaLM pretrained weights <-> the fairseq DeltaLM model's state dict, both directions.
#include "detect_deltalm_fairseq.hpp"
#include "rules_deltalm_fairseq.hpp"

#include <ckptconv/sdk.hpp>

namespace deltalm_fairseq {

struct DeltaLmFairseqPlugin {
    static constexpr const char* kId = "deltalm_fairseq";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "DeltaLM: pretrained {weights} <-> fairseq {model} (base, large)";
    static constexpr const char* kFormatVersions[] = {"pretrained", "fairseq", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_deltalm_fairseq(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
              ckptconv::sdk::Plan& plan) const {
        const DeltaLmDetection found = detect_deltalm_fairseq(index);
        if (found.shape.hidden == 0) throw ckptconv::sdk::invalid_data("no DeltaLM found: " + found.detection.reason);
        plan_deltalm_fairseq(found.shape, index, request, plan);
    }
};

} // namespace deltalm_fairseq

CKPTCONV_PLUGIN(deltalm_fairseq::DeltaLmFairseqPlugin, deltalm_fairseq)
