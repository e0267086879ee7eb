// Which checkpoint a folder stands for: a shard index, a single file, a DeepSpeed
// `latest` tag, or (a pipeline folder) one checkpoint per component subfolder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

/**
 * The checkpoint a folder holds: for a DeepSpeed / SAT save the tag folder
 * `latest` names (or the folder itself when it holds the rank files), else its
 * single `*.index.json` or its single checkpoint file (.safetensors .bin .pt
 * .pth .ckpt). The training state HF Trainer and accelerate save beside the
 * weights (optimizer.pt, scheduler.pt, rng_state_N.pth, ...) is never a
 * candidate. Throws BadInput naming the folder otherwise (several
 * candidates, a `latest` pointing nowhere, only training state).
 */
std::filesystem::path resolve_checkpoint_folder(const std::filesystem::path& folder);

/** "name (what), ..." of the training-state files in `folder` that resolve_checkpoint_folder sets aside; "" if none. */
std::string training_state_beside(const std::filesystem::path& folder);

struct FolderComponent {
    std::string name;                 ///< the subfolder's name, e.g. "transformer"
    std::filesystem::path checkpoint; ///< what resolve_checkpoint_folder gives for it
};

struct PipelineFolder {
    std::vector<FolderComponent> components; ///< in name order
    std::vector<std::string> skipped;        ///< "name: why" for subfolders holding no checkpoint
};

/**
 * A folder that holds no checkpoint of its own but has subfolders that do
 * (a SAT release: transformer/ + vae/, a diffusers pipeline). `components` is
 * empty when `folder` is not one. Subfolders whose checkpoint is broken or
 * ambiguous throw, as resolve_checkpoint_folder does: they are never skipped.
 */
PipelineFolder find_pipeline_components(const std::filesystem::path& folder);

} // namespace ckptconv::core
