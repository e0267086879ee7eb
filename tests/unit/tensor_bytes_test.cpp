#include "core/io/CheckpointOpener.hpp"
#include "core/io/TensorBytes.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace ckptconv::core {
namespace {

std::vector<float> floats_of(const CheckpointIndex& index, const std::string& key) {
    for (const auto& t : index.tensors)
        if (t.key == key) {
            std::string scratch;
            const std::string_view bytes = tensor_bytes(index, *t.info, scratch);
            std::vector<float> out(bytes.size() / 4);
            if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size()); // empty: data() may be null
            return out;
        }
    throw std::runtime_error(key);
}

TEST(TensorBytes, ContiguousViewsAndStridedGathers) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    // base = arange(12); view_b = base[6:]; column = base.view(3,4)[:,1]; transposed = arange(6).reshape(2,3).t()
    EXPECT_EQ(floats_of(index, "view_b"), (std::vector<float>{6, 7, 8, 9, 10, 11}));
    EXPECT_EQ(floats_of(index, "column"), (std::vector<float>{1, 5, 9}));
    EXPECT_EQ(floats_of(index, "transposed"), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    EXPECT_TRUE(floats_of(index, "empty").empty());
    EXPECT_EQ(floats_of(index, "scalar"), (std::vector<float>{2.5f}));
}

TEST(TensorBytes, RowMajorDetectionIgnoresSizeOneStrides) {
    TensorInfo t;
    t.shape = {1, 4};
    t.stride = {99, 1};
    EXPECT_TRUE(is_row_major(t));
    t.shape = {2, 3};
    t.stride = {1, 2};
    EXPECT_FALSE(is_row_major(t));
}

} // namespace
} // namespace ckptconv::core
