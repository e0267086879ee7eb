// t2m_cut: text-to-motion checkpoints -> the same checkpoint without its T5 encoder, ELLA renamed.
// The cut itself is data (t2m_cut.yaml, shipped next to the plugin); only detection is code.
#include "detect_t2m_cut.hpp"

#include <ckptconv/sdk.hpp>

namespace t2m_cut {

struct T2mCutPlugin {
    static constexpr const char* kId = "t2m_cut";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "text-to-motion checkpoints: drop the T5 encoder, ELLA -> sta_model";
    static constexpr const char* kFormatVersions[] = {"1.0", nullptr};

    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const { return detect_t2m_cut(index); }

    void plan(const ckptconv::sdk::IndexView&, const ckptconv::sdk::PlanRequest&, ckptconv::sdk::Plan& plan) const {
        plan.rules("t2m_cut.yaml");
        plan.target("t2m_cut");
        plan.keep_extras(true); // step counters and the like stay as they were
    }
};

} // namespace t2m_cut

CKPTCONV_PLUGIN(t2m_cut::T2mCutPlugin, t2m_cut)
