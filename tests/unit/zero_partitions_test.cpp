#include "core/io/ZeroPartitions.hpp"
#include "core/util/Error.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

using Slices = std::vector<RankSlice>;

// training-saves.md 3.11: a [3,5], b [7], c [2,2] in one group over dp = 4.
const std::vector<uint64_t> kNumels{15, 7, 4};

TEST(ZeroPartitions, Zero2WorkedLayoutParamsStraddleRanks) {
    // 26 elements padded to 32, partitions of 8; the last rank saved 2 (its 6 of padding dropped).
    const auto s = zero12_slices({8, 8, 8, 2}, kNumels, -1, "t");
    EXPECT_EQ(s[0], (Slices{{0, 0, 8}, {1, 0, 7}}));
    EXPECT_EQ(s[1], (Slices{{1, 7, 1}, {2, 0, 6}}));
    EXPECT_EQ(s[2], (Slices{{2, 6, 2}, {3, 0, 2}}));
}

TEST(ZeroPartitions, Zero2AcceptsKeptPaddingOnlyWithinTheAlignment) {
    EXPECT_NO_THROW(zero12_slices({8, 8, 8, 8}, kNumels, -1, "t"));       // old saves kept the padding
    EXPECT_NO_THROW(zero12_slices({8, 8, 8, 8}, kNumels, 6, "t"));        // BF16_Optimizer: exactly its padding
    EXPECT_THROW(zero12_slices({8, 8, 8, 1}, kNumels, -1, "t"), Error);   // one element short
    EXPECT_THROW(zero12_slices({8, 8, 8, 8}, kNumels, 5, "t"), Error);    // padding that does not match
    EXPECT_THROW(zero12_slices({16, 16, 8, 8}, kNumels, -1, "t"), Error); // more than alignment explains
}

TEST(ZeroPartitions, Zero3WorkedLayoutEachParamCutOnItsOwn) {
    // P_a = 4, P_b = 2, P_c = 1: every rank holds 7 elements; local offsets a 0, b 4, c 6.
    const auto s = zero3_slices({7, 7, 7, 7}, kNumels, "t");
    EXPECT_EQ(s[0], (Slices{{0, 0, 4}, {1, 0, 4}, {2, 0, 4}, {3, 0, 3}})); // rank 3's last element is garbage
    EXPECT_EQ(s[1], (Slices{{0, 4, 2}, {1, 4, 2}, {2, 4, 2}, {3, 4, 1}}));
    EXPECT_EQ(s[2], (Slices{{0, 6, 1}, {1, 6, 1}, {2, 6, 1}, {3, 6, 1}}));
}

TEST(ZeroPartitions, Zero3SmallParamsLeaveLaterRanksEmptyAndLengthsMustMatch) {
    const auto s = zero3_slices({1, 1, 1}, {1}, "t"); // one element over three ranks: ceil gives 1 each
    EXPECT_EQ(s[0], (Slices{{0, 0, 1}}));
    EXPECT_THROW(zero3_slices({7, 7, 7, 6}, kNumels, "t"), Error);
    EXPECT_THROW(zero3_slices({}, kNumels, "t"), Error);
}

} // namespace
} // namespace ckptconv::core
