// Everything known about a checkpoint without reading tensor bytes.
#pragma once

#include "core/io/PyObject.hpp"
#include "core/util/MappedFile.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::core {

struct PartitionRule;

struct IndexedTensor {
    std::string key; ///< key inside its root
    std::shared_ptr<TensorInfo> info;
    uint64_t storage_group = 0; ///< index into CheckpointIndex::storages
    uint32_t root = 0;          ///< index into CheckpointIndex::roots
    bool shares_storage = false;

    uint64_t numel() const;
    uint64_t nbytes() const { return numel() * element_size(info->dtype); }
};

/** A container holding tensors directly (a state dict, or a list of tensors). */
struct IndexedRoot {
    std::string path; ///< "" = top level; dotted keys below it
    uint64_t first_tensor = 0;
    uint64_t tensor_count = 0;
    bool is_state_dict = false; ///< str keys, every value a tensor
};

/** A non-tensor entry (step counter, args Namespace, numpy scalar...). */
struct IndexedExtra {
    std::string path;
    std::string type;
};

/** How readers treat what they find. */
struct ReadOptions {
    /// Replace pickle parts that reach for code execution by an inert placeholder (listed in
    /// CheckpointIndex::unsafe_dropped) instead of refusing the input.
    bool drop_unsafe = false;
    /// The output dtype asked for (--dtype): a DeepSpeed folder then gives its fp32 master rounded once to
    /// it, never its 16-bit copy rounded again (training-saves.md 3.13).
    std::optional<DType> dtype;
    /// With `dtype`: read every other floating tensor (frozen params, buffers) rounded to it too. For a
    /// consolidation without a plugin, whose writer copies storages and cannot cast; a plan casts instead.
    bool dtype_for_every_tensor = false;
    /// DeepSpeed ZeRO 1/2: prove that the fp32 master rounded to the training dtype equals `module`.
    bool check_master = false;
    /// A SAT model-parallel save (mp_rank_00..N-1): the family plugin's rules that merge its ranks, and that
    /// plugin's label for the report. Without rules only rank 0 is read (see model_parallel_ranks).
    const std::vector<PartitionRule>* partitions = nullptr;
    std::string partitions_from;
};

struct CheckpointIndex {
    CheckpointIndex() = default;
    CheckpointIndex(CheckpointIndex&&) = default;
    CheckpointIndex& operator=(CheckpointIndex&&) = default;

    std::string path;                               ///< as the user named it
    std::string container;                          ///< "torch-zip", "torch-legacy", "safetensors", ...
    std::vector<std::unique_ptr<MappedFile>> files; ///< mappings the storages point into
    /// The object tree a pickle held (acyclic, at most kMaxTreeDepth deep: PickleReader refuses
    /// others); null for flat inputs (safetensors, shards): see object_tree.
    PyRef tree;
    std::vector<std::shared_ptr<StorageInfo>> storages;
    std::vector<IndexedRoot> roots;
    std::vector<IndexedTensor> tensors; ///< grouped by root, in checkpoint order
    std::vector<IndexedExtra> extras;
    std::map<std::string, std::string> metadata; ///< safetensors __metadata__
    /// Parts of the pickle that reached for code execution, removed under ReadOptions::drop_unsafe.
    std::vector<std::string> unsafe_dropped;
    /// Files read to resolve the input besides `files` (a shard index, a DeepSpeed `latest`): no output may replace
    /// them.
    std::vector<std::string> also_read;
    /// What reading decided that a report should say (a DeepSpeed layout, which copy of the weights).
    std::vector<std::string> notes;
    /// Above 1: rank 0 of a model-parallel save over this many ranks, read unmerged (for detection only:
    /// its split tensors are parts) because no partition rules were given.
    uint32_t model_parallel_ranks = 1;

    /** Every file this input was read from. */
    std::vector<std::string> input_files() const {
        std::vector<std::string> all = also_read;
        for (const auto& f : files) all.push_back(f->path());
        return all;
    }

    uint64_t tensor_bytes() const;
};

/** "root.key", or just "key" for the top-level root. */
std::string dotted_name(const std::string& root, const std::string& key);

/** A tensor's name in a flat listing (safetensors, diff): its key, or root.key when the index has several roots. */
std::string flat_name(const CheckpointIndex& index, const IndexedTensor& tensor);

/**
 * Walks `index.tree` and fills roots, tensors, storages and extras. Checks
 * every tensor against its storage (shape, strides and offset must stay
 * inside the bytes the file holds); throws BadInput naming the tensor.
 */
void build_index_from_tree(CheckpointIndex& index);

/**
 * Appends a tensor of a flat state dict (safetensors, shards) to root "",
 * without building an object tree: a million tensors stay cheap. Call
 * finish_flat_index once all are in.
 */
void add_flat_tensor(CheckpointIndex& index, std::string key, std::shared_ptr<TensorInfo> info);
void finish_flat_index(CheckpointIndex& index);

/** The tree to pickle: the one read, or for a flat input an OrderedDict of its tensors. */
PyRef object_tree(const CheckpointIndex& index);

} // namespace ckptconv::core
