#include "core/io/ModelParallel.hpp"
#include "core/util/Error.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace ckptconv::core {
namespace {

// The merged tensor's elements, read through the pieces from per-rank arrays laid out as one "file" per rank.
std::vector<int> gather(const std::vector<StoragePiece>& pieces, const std::vector<std::vector<int>>& ranks) {
    std::vector<int> out;
    for (const StoragePiece& p : pieces) {
        const auto& rank = ranks.at(p.file);
        for (uint64_t b = p.offset; b < p.offset + p.nbytes; b += sizeof(int)) out.push_back(rank.at(b / sizeof(int)));
    }
    return out;
}

std::vector<RankCopy> two_ranks() { return {{0, 0}, {1, 0}}; }

TEST(ModelParallel, GlobStarMatchesAnyRunDotsIncluded) {
    EXPECT_TRUE(glob_matches("*.attention.dense.weight", "model.transformer.layers.7.attention.dense.weight"));
    EXPECT_FALSE(glob_matches("*.attention.dense.weight", "model.transformer.layers.7.attention.dense.bias"));
    EXPECT_TRUE(glob_matches("*.matrix_A.*", "a.query_key_value.matrix_A.0"));
    EXPECT_TRUE(glob_matches("a*b*c", "a-b-b-c"));
    EXPECT_FALSE(glob_matches("a*b*c", "a-b-b-"));
    EXPECT_TRUE(glob_matches("*", ""));
    EXPECT_FALSE(glob_matches("", "x"));
    // A long key against many stars stays fast (no exponential backtracking).
    EXPECT_FALSE(glob_matches("*a*a*a*a*a*a*a*b", std::string(4000, 'a')));
}

TEST(ModelParallel, FirstMatchingRuleDecidesAndUnmatchedKeysAreReplicated) {
    const std::vector<PartitionRule> rules{{"*.matrix_A.*", PartitionKind::Refuse, 1, "why"},
                                           {"*.query_key_value.*", PartitionKind::Column, 3, ""}};
    EXPECT_EQ(partition_of(rules, "x.query_key_value.matrix_A.0")->kind, PartitionKind::Refuse);
    EXPECT_EQ(partition_of(rules, "x.query_key_value.weight")->stride, 3u);
    EXPECT_EQ(partition_of(rules, "x.input_layernorm.weight"), nullptr);
}

TEST(ModelParallel, FusedQkvMergesBlockByBlockNeverAsAPlainCat) {
    // training-saves.md 4.1: D = 2 heads' worth of rows, N = 2; each rank holds [q_r; k_r; v_r], 1 row each.
    const std::vector<std::vector<int>> ranks{{10, 11, 20, 21, 30, 31}, {12, 13, 22, 23, 32, 33}};
    const Dims shape{3, 2};
    EXPECT_EQ(merged_shape(PartitionKind::Column, 3, shape, 2, "f", "qkv"), (Dims{6, 2}));
    const auto pieces = merged_pieces(PartitionKind::Column, 3, shape, sizeof(int), two_ranks());
    // Q of rank 0, Q of rank 1, then K, then V.
    EXPECT_EQ(gather(pieces, ranks), (std::vector<int>{10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33}));
}

TEST(ModelParallel, RowParallelTakesEachRowFromEveryRankInTurn) {
    const std::vector<std::vector<int>> ranks{{1, 2, 5, 6}, {3, 4, 7, 8}}; // [2, 2] each, merged [2, 4]
    EXPECT_EQ(merged_shape(PartitionKind::Row, 1, Dims{2, 2}, 2, "f", "dense"), (Dims{2, 4}));
    EXPECT_EQ(gather(merged_pieces(PartitionKind::Row, 1, Dims{2, 2}, sizeof(int), two_ranks()), ranks),
              (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ModelParallel, VocabAndStrideOneColumnAreRanksInOrderJoinedWhereContiguous) {
    const std::vector<std::vector<int>> ranks{{1, 2}, {3, 4}};
    const auto vocab = merged_pieces(PartitionKind::Vocab, 1, Dims{1, 2}, sizeof(int), two_ranks());
    EXPECT_EQ(gather(vocab, ranks), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(merged_shape(PartitionKind::Vocab, 1, Dims{1, 2}, 2, "f", "emb"), (Dims{2, 2}));
    // Two ranks stored back to back in one file: one piece.
    const auto joined = merged_pieces(PartitionKind::Column, 1, Dims{2}, sizeof(int), {{0, 0}, {0, 8}});
    EXPECT_EQ(joined.size(), 1u);
    EXPECT_EQ(joined[0].nbytes, 16u);
}

TEST(ModelParallel, ReplicatedIsRankZerosCopy) {
    const auto pieces = merged_pieces(PartitionKind::Replicated, 1, Dims{3}, sizeof(int), two_ranks());
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].file, 0u);
    EXPECT_EQ(pieces[0].nbytes, 12u);
    EXPECT_EQ(merged_shape(PartitionKind::Replicated, 1, Dims{3}, 2, "f", "ln"), (Dims{3}));
}

TEST(ModelParallel, RefusesShapesThatCannotBeSplitThatWay) {
    EXPECT_THROW(merged_shape(PartitionKind::Column, 3, Dims{4, 2}, 2, "f", "qkv"), Error); // 4 rows, 3 blocks
    EXPECT_THROW(merged_shape(PartitionKind::Row, 1, Dims{4}, 2, "f", "bias"), Error);      // a vector has no rows
    EXPECT_THROW(merged_shape(PartitionKind::Vocab, 1, Dims{}, 2, "f", "scalar"), Error);
    EXPECT_THROW(merged_shape(PartitionKind::Vocab, 1, Dims{INT64_MAX / 2 + 1}, 2, "f", "huge"), Error);
    try {
        merged_shape(PartitionKind::Column, 3, Dims{4, 2}, 2, "rank0.pt", "x.query_key_value.weight");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        EXPECT_NE(std::string(e.what()).find("rank0.pt"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("x.query_key_value.weight"), std::string::npos);
    }
}

} // namespace
} // namespace ckptconv::core
