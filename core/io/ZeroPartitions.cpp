#include "core/io/ZeroPartitions.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <algorithm>

namespace ckptconv::core {
namespace {

uint64_t align(uint64_t n, uint64_t m) { return (n + m - 1) / m * m; }

} // namespace

std::vector<std::vector<RankSlice>> zero12_slices(const std::vector<uint64_t>& rank_lengths,
                                                  const std::vector<uint64_t>& numels, int64_t padding,
                                                  const std::string& where) {
    const Checked math(where, "ZeRO partition lengths");
    std::vector<uint64_t> starts; // of each rank in the concatenation
    uint64_t total = 0;
    for (uint64_t l : rank_lengths) {
        starts.push_back(total);
        total = math.add(total, l);
    }
    uint64_t wanted = 0;
    for (uint64_t n : numels) wanted = math.add(wanted, n);
    const uint64_t dp = rank_lengths.size();
    const bool fits = padding >= 0 ? wanted <= total && total - wanted == static_cast<uint64_t>(padding)
                                   : wanted <= total && dp > 0 && align(wanted, 2 * dp) == align(total, 2 * dp);
    if (!fits)
        throw bad_input(
            where, "the params of param_shapes need " + std::to_string(wanted) +
                       " elements but the ranks' partitions hold " + std::to_string(total) +
                       (padding >= 0 ? " with " + std::to_string(padding) + " of padding"
                                     : " (more than the alignment to 2 x " + std::to_string(dp) + " ranks explains)"));
    std::vector<std::vector<RankSlice>> out;
    uint64_t offset = 0;
    uint32_t rank = 0;
    for (uint64_t n : numels) {
        std::vector<RankSlice> slices;
        for (uint64_t left = n, at = offset; left > 0;) {
            while (at >= starts[rank] + rank_lengths[rank]) ++rank; // wanted <= total: a rank holds `at`
            const uint64_t take = std::min(left, starts[rank] + rank_lengths[rank] - at);
            slices.push_back({rank, at - starts[rank], take});
            at += take;
            left -= take;
        }
        out.push_back(std::move(slices));
        offset += n;
    }
    return out;
}

std::vector<std::vector<RankSlice>> zero3_slices(const std::vector<uint64_t>& rank_lengths,
                                                 const std::vector<uint64_t>& numels, const std::string& where) {
    const uint64_t dp = rank_lengths.size();
    if (dp == 0) throw bad_input(where, "no ranks to gather ZeRO-3 partitions from");
    const Checked math(where, "ZeRO-3 partition lengths");
    uint64_t per_rank = 0;
    for (uint64_t n : numels) per_rank = math.add(per_rank, n / dp + (n % dp != 0));
    for (uint32_t r = 0; r < dp; ++r)
        if (rank_lengths[r] != per_rank)
            throw bad_input(where, "rank " + std::to_string(r) + " holds " + std::to_string(rank_lengths[r]) +
                                       " elements, but ceil(numel / " + std::to_string(dp) +
                                       ") summed over param_shapes is " + std::to_string(per_rank));
    std::vector<std::vector<RankSlice>> out;
    uint64_t offset = 0;
    for (uint64_t n : numels) {
        const uint64_t size = n / dp + (n % dp != 0);
        std::vector<RankSlice> slices;
        for (uint32_t r = 0; r < dp && r * size < n; ++r) slices.push_back({r, offset, std::min(size, n - r * size)});
        out.push_back(std::move(slices));
        offset += size;
    }
    return out;
}

} // namespace ckptconv::core
