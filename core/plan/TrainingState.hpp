// What a training save holds besides the model (training-saves.md 5): RNG states, optimizer and
// scheduler state, step counters, DeepSpeed bookkeeping, trainer state, EMA copies.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <string>

namespace ckptconv::core {

/**
 * The category of a training save's top-level entry `top` ("RNG", "optimizer",
 * "scheduler", "step counters", "DeepSpeed bookkeeping", "trainer state",
 * "configuration", "EMA copy"), `second` being the next path component when
 * there is one (fairseq keeps its EMA in extra_state.ema); "" when unknown.
 */
std::string training_state_category(const std::string& top, const std::string& second = {});

/**
 * For a plan that declared model roots: drops every source tensor outside them
 * that the plan neither used nor dropped and whose top-level entry is known
 * training state ("training state: <category>"), and lists in
 * plan.training_state every top-level entry outside the model roots with its
 * category ("not recognised" for extras nobody knows; tensors nobody knows stay
 * for the plan check to refuse).
 */
void drop_training_state(const CheckpointIndex& index, Plan& plan);

} // namespace ckptconv::core
