// Refuses a plan before any byte is written (exit 5), naming the keys at fault.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

namespace ckptconv::core {

/**
 * Checks that every source tensor is used by an output or dropped with a
 * reason (never both, never dropped twice), that the outputs match the
 * declared target spec exactly (names and shapes, as load_state_dict(strict=True)
 * would), and that the plan casts no dtype unless `casts_allowed` (the user
 * asked for --dtype). Shapes were already checked as the plan was built.
 * Throws Error(PlanRejected) listing up to ten keys per problem.
 */
void check_plan(const CheckpointIndex& index, const Plan& plan, bool casts_allowed);

/** Source tensors an expression reads, in first-use order. */
std::vector<uint64_t> sources_of(const Plan& plan, int64_t expr);

} // namespace ckptconv::core
