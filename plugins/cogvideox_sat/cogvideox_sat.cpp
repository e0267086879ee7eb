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
    static constexpr const char* kMpLora = "a LoRA trained model-parallel: the row-parallel dense LoRA's partial "
                                           "products are never all-reduced, so its update is not well defined";
    // SAT's mpu layers (training-saves.md 4.1-4.2): the fused Q/K/V is column-parallel with stride 3, the
    // MLP's first linear column-parallel, the attention output and the MLP's second linear row-parallel
    // (their biases whole on every rank); everything else is replicated.
    static constexpr ckptconv_partition_v1 kPartitions[] = {
        ckptconv::sdk::partition::refuse("*.matrix_A.*", kMpLora),
        ckptconv::sdk::partition::refuse("*.matrix_B.*", kMpLora),
        ckptconv::sdk::partition::column("*.attention.query_key_value.weight", 3),
        ckptconv::sdk::partition::column("*.attention.query_key_value.bias", 3),
        ckptconv::sdk::partition::row("*.attention.dense.weight"),
        ckptconv::sdk::partition::column("*.mlp.dense_h_to_4h.weight"),
        ckptconv::sdk::partition::column("*.mlp.dense_h_to_4h.bias"),
        ckptconv::sdk::partition::row("*.mlp.dense_4h_to_h.weight")};
    // SAT records the LoRA alpha only in the run's merged config, training_config.yaml at the save root
    // (<root>/<iteration>/mp_rank_00_model_states.pt: one folder up), training-saves.md 2.3.
    static constexpr ckptconv_sidecar_v1 kSidecars[] = {ckptconv::sdk::sidecar_yaml(
        "training_config.yaml", "model.network_config.params.modules.lora_config.params.lora_alpha",
        "source.lora_alpha", 1)};

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
