// Where each parameter of a DeepSpeed ZeRO save lies across the ranks' flat fp32 partitions
// (training-saves.md 3.4, 3.5, 3.11): pure arithmetic on lengths, so it is tested on its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ckptconv::core {

/** `count` elements from element `start` of rank `rank`'s flat stream. */
struct RankSlice {
    uint32_t rank = 0;
    uint64_t start = 0;
    uint64_t count = 0;
    bool operator==(const RankSlice& o) const { return rank == o.rank && start == o.start && count == o.count; }
};

/**
 * ZeRO 1/2 and BF16_Optimizer, one param group: the ranks' partitions (lengths `rank_lengths`)
 * concatenated are the group's params in flat order (`numels`), then at most the padding.
 * `padding` is the tail the lengths still hold past the params (BF16_Optimizer keeps it; ZeRO 1/2
 * saves drop it, or old versions keep it), or -1 to accept any tail that an alignment to 2·dp explains.
 * Throws BadInput naming `where` when the lengths do not add up.
 */
std::vector<std::vector<RankSlice>> zero12_slices(const std::vector<uint64_t>& rank_lengths,
                                                  const std::vector<uint64_t>& numels, int64_t padding,
                                                  const std::string& where);

/**
 * ZeRO 3: each param is cut on its own into dp slices of ceil(numel/dp) elements, and every rank's
 * stream is the params' slices in order; the last slice's tail past numel is garbage and is left out.
 * Throws BadInput naming `where` when a rank's length differs from the sum of the slices.
 */
std::vector<std::vector<RankSlice>> zero3_slices(const std::vector<uint64_t>& rank_lengths,
                                                 const std::vector<uint64_t>& numels, const std::string& where);

} // namespace ckptconv::core
