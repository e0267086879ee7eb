// Index a pre-1.6 torch.save stream (_use_new_zipfile_serialization=False).
#pragma once

#include "core/index/CheckpointIndex.hpp"

namespace ckptconv::core {

/**
 * Layout: pickles of the magic number, protocol version, sys_info and the
 * object, then a pickled list of storage keys, then per key an int64 element
 * count followed by the raw bytes. Only those 8-byte counts are read.
 */
CheckpointIndex read_torch_legacy(const std::string& path, const ReadOptions& options = {});

/** True if `data` starts with the pickled legacy magic number. */
bool looks_like_torch_legacy(std::string_view data);

} // namespace ckptconv::core
