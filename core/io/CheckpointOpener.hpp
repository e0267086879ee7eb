// Recognise a checkpoint container by its bytes and index it.
#pragma once

#include "core/index/CheckpointIndex.hpp"

namespace ckptconv::core {

/**
 * Opens a torch zip, torch legacy or safetensors file, judging by magic
 * bytes, never by extension; a `*.index.json` or a folder holding one (or
 * holding a single checkpoint file) opens the sharded checkpoint. Throws
 * BadInput naming the file when the bytes match no supported container.
 */
CheckpointIndex open_checkpoint(const std::string& path, const ReadOptions& options = {});

/** Opens one checkpoint *file* (torch zip, legacy or safetensors): never an index or a folder. */
CheckpointIndex open_checkpoint_file(const std::string& path, const ReadOptions& options = {});

} // namespace ckptconv::core
