#include "core/index/Dims.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(Dims, BehavesAsAVectorInlineAndOnTheHeap) {
    Dims d{2, 3};
    EXPECT_EQ(d.size(), 2u);
    EXPECT_EQ(d, (std::vector<int64_t>{2, 3}));
    for (int64_t v : {5, 7, 11, 13}) d.push_back(v); // past the four inline values
    EXPECT_EQ(d, (std::vector<int64_t>{2, 3, 5, 7, 11, 13}));
    EXPECT_EQ(d[5], 13);
    Dims copy = d;
    Dims moved = std::move(d);
    EXPECT_TRUE(d.empty()); // NOLINT: a moved-from Dims is empty and usable
    d.push_back(1);
    EXPECT_EQ(d, (std::vector<int64_t>{1}));
    EXPECT_EQ(copy, moved);
    moved = Dims{4};
    EXPECT_EQ(moved, (std::vector<int64_t>{4}));
    copy[1] = 9; // written in place on the heap
    EXPECT_EQ(copy, (std::vector<int64_t>{2, 9, 5, 7, 11, 13}));
    const std::vector<int64_t> as_vector = copy;
    EXPECT_EQ(as_vector.size(), 6u);
    Dims ones(3, 1);
    EXPECT_EQ(ones, (std::vector<int64_t>{1, 1, 1}));
    ones.resize(5, 0);
    EXPECT_EQ(ones, (std::vector<int64_t>{1, 1, 1, 0, 0}));
    Dims inline_move{1, 2};
    Dims target{7, 7, 7, 7, 7, 7};
    target = std::move(inline_move);
    EXPECT_EQ(target, (std::vector<int64_t>{1, 2}));
}

TEST(Dims, ContiguousStridesCountEmptyDimensionsAsOne) {
    EXPECT_EQ(contiguous_strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
    EXPECT_EQ(contiguous_strides({5, 0, 2}), (std::vector<int64_t>{2, 2, 1}));
    EXPECT_TRUE(contiguous_strides({}).empty());
}

} // namespace
} // namespace ckptconv::core
