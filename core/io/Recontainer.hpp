// --plugin none: the same tensors and extras in another container, no rules applied.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ckptconv::core {

struct RecontainerOptions {
    std::string to = "pt";        ///< "pt" or "safetensors"
    std::filesystem::path output; ///< a file (shards go beside it)
    uint64_t shard_size = 0;      ///< safetensors shard cap; 0 = one file
    bool force = false;
};

struct WrittenFile {
    std::filesystem::path path;
    uint64_t tensors = 0;
    uint64_t bytes = 0;
};

struct RecontainerResult {
    std::vector<WrittenFile> files;
    uint64_t tensors_written = 0;
    std::map<std::string, std::string> aliases; ///< safetensors: tied name -> name written
    uint64_t extras_not_kept = 0;               ///< safetensors cannot hold non-tensor entries
    std::vector<std::string> dropped_extras;    ///< pt: parts off the output allow-list, "path (type)"
};

/**
 * pt: the whole object tree (extras, views, shared storages) re-emitted as a
 * torch.save zip, less what the output allow-list refuses (listed in
 * dropped_extras; tensors inside such parts make it refuse, PlanRejected). safetensors: every tensor row-major under
 * its key (or `root.key` when there are several roots); exact duplicates of one storage view are written once and
 * recorded as aliases. Nothing is left behind on failure; the input is never touched.
 */
RecontainerResult recontainer(const CheckpointIndex& index, const std::vector<std::filesystem::path>& inputs,
                              const RecontainerOptions& options);

} // namespace ckptconv::core
