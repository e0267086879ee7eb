// A DeepSpeed checkpoint folder read as one checkpoint (training-saves.md 3): the layout told apart from the
// files' metadata alone, and the weights of the copy to convert gathered from byte ranges of the rank files,
// so nothing consolidates a model in memory and the Adam moments are never read.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <filesystem>
#include <string>

namespace ckptconv::core {

/** True when `folder` holds DeepSpeed rank files (`*_model_states.pt`): a tag folder such as global_step300/. */
bool is_deepspeed_tag_folder(const std::filesystem::path& folder);

/**
 * The model a DeepSpeed tag folder holds, as one state dict (what zero_to_fp32 would write, without it):
 * - ZeRO 0/1/2 and SAT saves: `module`, the 16-bit copy, as saved;
 * - the fp32 master rebuilt from the optim files' partitions when ReadOptions::dtype is fp32 or differs
 *   from the training dtype (rounded once to it), and always for ZeRO 3 (rounded once to the training
 *   dtype unless a dtype is asked for), with ZeRO-3 frozen params gathered from every rank's fragments;
 * - tied params restored from `shared_params`; buffers as stored.
 * `notes` names the layout, the DeepSpeed version, the ranks read and the copy used. Throws BadInput for
 * layouts it cannot read (model-parallel, pipeline-parallel, NVMe offload, missing ranks, lengths that
 * do not add up) and VerifyMismatch when ReadOptions::check_master finds the copies differ.
 */
CheckpointIndex read_deepspeed_folder(const std::filesystem::path& tag_folder, const std::string& named,
                                      const ReadOptions& options);

} // namespace ckptconv::core
