// Index a sharded checkpoint (HF safetensors or .bin shards) as one state dict.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <filesystem>

namespace ckptconv::core {

/**
 * `index_json` is a `*.index.json` with a `weight_map`. Every shard it names
 * is opened (safetensors or torch zip), and the map and the shards must agree
 * both ways: each mapped tensor is in its shard, each shard tensor is mapped
 * to that shard. The result is one root "" holding every tensor, shard by
 * shard in file order. Throws BadInput naming the shard and key.
 */
CheckpointIndex read_sharded(const std::filesystem::path& index_json, const ReadOptions& options = {});

} // namespace ckptconv::core
