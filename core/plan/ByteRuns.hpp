// Lowers data-movement plans (chunk, narrow, cat, pad, reshape, zeros, constants) to runs of bytes,
// so outputs such as a q/k/v split are written by copying file ranges, without the tensor engine.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/io/RunSpans.hpp"
#include "core/plan/Plan.hpp"

#include <optional>
#include <vector>

namespace ckptconv::core {

/**
 * The row-major bytes of node `expr` as runs (adjacent runs merged), or nullopt when the node
 * computes values (cast, permute, strided source) or would need more than `max_runs` runs.
 */
std::optional<std::vector<ByteRun>> byte_runs(const CheckpointIndex& index, const Plan& plan, int64_t expr,
                                              size_t max_runs = 1u << 16);

} // namespace ckptconv::core
