// Index a torch.save zip checkpoint (PyTorch >= 1.6) without reading tensor bytes.
#pragma once

#include "core/index/CheckpointIndex.hpp"

namespace ckptconv::core {

/** Maps `path`, decodes data.pkl and locates every storage record; throws BadInput. */
CheckpointIndex read_torch_zip(const std::string& path, const ReadOptions& options = {});

} // namespace ckptconv::core
