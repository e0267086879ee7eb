// PyTorch Lightning's .ckpt (training-saves.md 5.4): the weights sit in `state_dict` under the names the
// LightningModule gives its submodules (`self.model = ...` makes every key start with `model.`), which no
// family's layout has. Taking that attribute off lets a plugin recognise the model it wraps.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <string>
#include <vector>

namespace ckptconv::core {

/**
 * For a Lightning save (`pytorch-lightning_version` beside a `state_dict` dict) whose tensor keys all start
 * with one attribute, that attribute with its dot ("model."); "" for anything else.
 */
std::string lightning_module_prefix(const CheckpointIndex& index);

/** Takes `prefix` off every key of the save's `state_dict`, indexes the save again and notes it. */
void unwrap_lightning_module(CheckpointIndex& index, const std::string& prefix);

/** True for the top level of a DeepSpeed model-states file Lightning's DeepSpeed strategy wrote. */
bool is_lightning_client_state(const PyObject& model_states);

/**
 * What Lightning's own converter (utilities/deepspeed.py) makes of its DeepSpeed strategy's save: the
 * Lightning dict it kept as client state, less the engine's keys, with `state_dict` = the consolidated
 * `module`, whose `_forward_module.` prefix (Lightning < 2.1) is taken off. `notes` says so.
 */
PyRef lightning_checkpoint_from_deepspeed(const PyObject& model_states, const PyRef& module,
                                          std::vector<std::string>& notes);

} // namespace ckptconv::core
