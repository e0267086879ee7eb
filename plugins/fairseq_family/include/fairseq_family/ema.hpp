// fairseq --store-ema keeps a second model in extra_state.ema (training-saves.md 5.3); its own
// load_ema_from_checkpoint swaps it in for `model`. Both fairseq plugins offer the same choice.
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace fairseq_family {

/**
 * The root to convert: `live_root`, or with --option ema=1 the EMA copy
 * (extra_state.ema, which must hold `anchor_key`), the live weights then
 * dropped with a reason. invalid_data (exit 5) when there is no EMA copy.
 */
inline std::string model_or_ema_root(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
                                     ckptconv::sdk::Plan& plan, const std::string& live_root,
                                     const std::string& anchor_key) {
    if (request.one_of("ema", "0", {"0", "1"}) == "0") return live_root;
    const std::string ema = "extra_state.ema";
    const auto* live = index.root(live_root);
    if (!live || !index.root(ema) || !index.find(ema, anchor_key))
        throw ckptconv::sdk::invalid_data("--option ema=1: this is not a fairseq save with an EMA copy of the model "
                                          "in extra_state.ema (fairseq --store-ema)");
    for (const auto* t : index.tensors_of(*live))
        plan.drop(live_root, std::string(t->key), "the live weights: --option ema=1 converts the EMA copy");
    plan.model_root(live_root);
    plan.note("converted fairseq's EMA copy (extra_state.ema) instead of " + live_root +
              ", as load_ema_from_checkpoint does");
    return ema;
}

} // namespace fairseq_family
