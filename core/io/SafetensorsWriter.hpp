// Writes tensors as one safetensors file or Hub-style shards with an index.
#pragma once

#include "core/index/DType.hpp"
#include "core/io/FileWriter.hpp"
#include "core/io/OutputTransaction.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ckptconv::core {

struct SafetensorsEntry {
    std::string name;
    DType dtype = DType::Invalid;
    std::vector<int64_t> shape;
    uint64_t nbytes = 0;
    /** Appends exactly `nbytes` row-major bytes to the file. */
    std::function<void(FileWriter&)> write;
};

struct SafetensorsFileReport {
    std::filesystem::path path; ///< final name
    uint64_t tensors = 0;
    uint64_t bytes = 0; ///< whole file size
};

struct SafetensorsOptions {
    /** Shard cap in bytes of tensor data; 0 = one file. */
    uint64_t shard_size = 0;
    /** String entries for __metadata__ and the index's "metadata" (provenance); loaders ignore them. */
    std::map<std::string, std::string> metadata;
    /** Names recorded as tied to a kept one (not written): removed -> kept, into __metadata__. */
    std::map<std::string, std::string> aliases;
};

/**
 * Writes `entries` (in state-dict order) at `target` through `transaction`.
 * One file when everything fits under the cap: `target` itself. Otherwise
 * shards split greedily in order, named `<stem>-00001-of-0000N.safetensors`
 * beside `target`, plus `<target>.index.json` ({"metadata":{"total_size"},
 * "weight_map"}). Inside a file tensors are ordered by dtype size (largest
 * first) then name, as the reference writer does; headers are padded to 8.
 */
std::vector<SafetensorsFileReport> write_safetensors(OutputTransaction& transaction,
                                                     const std::filesystem::path& target,
                                                     const std::vector<SafetensorsEntry>& entries,
                                                     const SafetensorsOptions& options);

/** "5GB" (decimal, as the Hub), "500MB", "2GiB", "1024" bytes; throws Error(Usage). */
uint64_t parse_byte_size(const std::string& text);

} // namespace ckptconv::core
