// Values a training run writes beside its save rather than into it, read for the plugin that asks
// (ckptconv_sidecar_v1, ABI 1.6): SAT's training_config.yaml at the save root alone records the LoRA alpha.
#pragma once

#include "core/host/PluginRegistry.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace ckptconv::convert {

struct SidecarValue {
    std::string text;           ///< the scalar as the file writes it
    std::filesystem::path file; ///< where it was found
};

/**
 * The scalar at `request.yaml_path` of the first `request.file_name` found in the folder of `checkpoint`
 * or up to `request.parents` folders above it; nullopt when no such file exists or it holds no scalar
 * there. The file is input like any other: at most 1 MiB and 64 levels deep, readable YAML, else
 * Error(BadInput) naming it.
 */
std::optional<SidecarValue> read_sidecar(const std::filesystem::path& checkpoint, const core::SidecarRequest& request);

} // namespace ckptconv::convert
