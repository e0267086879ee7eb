// What a SAT training run wrote beside its save (training-saves.md 2.3): training_config.yaml at the
// save root, the merged --base YAML, which alone records the LoRA alpha.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ckptconv::convert {

struct LoraAlpha {
    double value = 1.0;
    std::filesystem::path file; ///< the training_config.yaml it came from
};

/**
 * model.network_config.params.modules.lora_config.params.lora_alpha of the
 * training_config.yaml in the folder of `checkpoint` or the one above it (SAT
 * saves <root>/<iteration>/mp_rank_00_model_states.pt), if there is one and it
 * says. The file is input like any other: at most 1 MiB and 64 levels deep,
 * else Error(BadInput) naming it.
 */
std::optional<LoraAlpha> sat_lora_alpha(const std::filesystem::path& checkpoint);

} // namespace ckptconv::convert
