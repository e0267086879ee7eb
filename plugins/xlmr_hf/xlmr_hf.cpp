// xlmr_hf: XLM-R / RoBERTa between Hugging Face and fairseq names, both directions.
#include "detect_xlmr_hf.hpp"
#include "rules_xlmr_hf.hpp"

#include <ckptconv/sdk.hpp>

namespace xlmr_hf {

struct XlmrHfPlugin {
    static constexpr const char* kId = "xlmr_hf";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "XLM-R / RoBERTa: Hugging Face <-> fairseq RobertaModel";
    static constexpr const char* kFormatVersions[] = {"hf", "fairseq", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const {
        return detect_xlmr_hf(index).detection;
    }

    void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
              ckptconv::sdk::Plan& plan) const {
        const XlmrDetection found = detect_xlmr_hf(index);
        if (found.shape.hidden == 0) throw ckptconv::sdk::invalid_data("no XLM-R found: " + found.detection.reason);
        plan_xlmr_hf(found.shape, index, request, plan);
    }
};

} // namespace xlmr_hf

CKPTCONV_PLUGIN(xlmr_hf::XlmrHfPlugin, xlmr_hf)
