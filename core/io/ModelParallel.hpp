// SAT model-parallel saves (training-saves.md 4.1): how a plugin's partition rules merge one tensor's N
// per-rank copies into the whole tensor, as byte ranges of the rank files (nothing merged in memory).
#pragma once

#include "core/io/PyObject.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

enum class PartitionKind { Replicated, Column, Row, Vocab, Refuse };

/** One rule of a plugin's table (ckptconv_partition_v1). */
struct PartitionRule {
    std::string key_glob;
    PartitionKind kind = PartitionKind::Replicated;
    uint32_t stride = 1; ///< Column: equal blocks per rank, merged block by block
    std::string reason;  ///< Refuse: why
};

/** `*` matches any run of characters (dots included); everything else matches itself. No recursion. */
bool glob_matches(std::string_view glob, std::string_view text);

/** The first rule matching `key`; nullptr when none does (the tensor is replicated). */
const PartitionRule* partition_of(const std::vector<PartitionRule>& rules, std::string_view key);

/** Where one rank's row-major copy of a tensor starts. */
struct RankCopy {
    uint32_t file;
    uint64_t offset;
};

/**
 * The whole tensor's shape from one rank's `shape` over `ranks` ranks. Throws BadInput naming `file` and
 * `key` when the shape cannot be split that way (no dims to split, rows not a multiple of the stride, sizes
 * that overflow).
 */
Dims merged_shape(PartitionKind kind, uint32_t stride, const Dims& shape, uint32_t ranks, const std::string& file,
                  const std::string& key);

/**
 * The whole tensor as byte ranges of the ranks' copies, in row-major order: Column takes each of the
 * `stride` blocks from every rank in turn (SAT's merge, never a plain cat for stride > 1), Row takes each
 * row from every rank in turn, Vocab is the ranks one after another, Replicated is rank 0's copy.
 * Ranges that continue one another are joined.
 */
std::vector<StoragePiece> merged_pieces(PartitionKind kind, uint32_t stride, const Dims& shape, uint32_t element_size,
                                        const std::vector<RankCopy>& ranks);

} // namespace ckptconv::core
