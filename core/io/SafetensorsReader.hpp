// Index a safetensors file: 8-byte header length, JSON header, byte buffer.
#pragma once

#include "core/index/CheckpointIndex.hpp"

namespace ckptconv::core {

/**
 * Validates the header as the reference library does (size cap, dtype and
 * shape agree with data_offsets, offsets cover the buffer with no hole or
 * overlap) and indexes every tensor as root "" in data-offset order (the header order of
 * every file a safetensors writer produces), parsing the header in linear time.
 */
CheckpointIndex read_safetensors(const std::string& path);

/** True if `data` starts like a safetensors file (an 8-byte length, then '{'). */
bool looks_like_safetensors(std::string_view data);

} // namespace ckptconv::core
