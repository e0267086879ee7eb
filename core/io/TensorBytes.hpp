// The row-major bytes of one indexed tensor, straight from the mapping when it is contiguous.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <string>
#include <string_view>

namespace ckptconv::core {

/** True if the tensor's elements are one row-major run in its storage. */
bool is_row_major(const TensorInfo& info);

/** Byte offset of the tensor's first element in its file. */
uint64_t tensor_file_offset(const TensorInfo& info);

/**
 * The tensor's row-major bytes: a view into the mapping when contiguous,
 * otherwise gathered into `scratch` (which the view then points into).
 */
std::string_view tensor_bytes(const CheckpointIndex& index, const TensorInfo& info, std::string& scratch);

} // namespace ckptconv::core
