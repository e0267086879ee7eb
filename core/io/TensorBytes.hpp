// The row-major bytes of one indexed tensor, straight from the mapping when it is contiguous.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <string>
#include <string_view>

namespace ckptconv::core {

class FileWriter;

/** True if the tensor's elements are one row-major run in its storage. */
bool is_row_major(const TensorInfo& info);

/** Byte offset of the tensor's first element in its file. */
uint64_t tensor_file_offset(const TensorInfo& info);

/** True for a tensor of a gathered storage (StorageInfo::pieces). */
bool is_gathered(const TensorInfo& info);

/** A gathered storage's bytes in its dtype, `nbytes` of them, into `out`. */
void read_gathered(const CheckpointIndex& index, const StorageInfo& storage, void* out);

/** A gathered storage's bytes in its dtype, written to `out`: file ranges copied, or converted in blocks. */
void write_gathered(const CheckpointIndex& index, const StorageInfo& storage, FileWriter& out);

/**
 * The tensor's row-major bytes: a view into the mapping when contiguous,
 * otherwise gathered into `scratch` (which the view then points into).
 */
std::string_view tensor_bytes(const CheckpointIndex& index, const TensorInfo& info, std::string& scratch);

} // namespace ckptconv::core
