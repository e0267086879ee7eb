#include "core/io/SafetensorsReader.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace ckptconv::core {
namespace {

TEST(Safetensors, IndexesHeaderOrderDtypesAndMetadata) {
    const CheckpointIndex index = read_safetensors(test::corpus("safetensors/simple.safetensors"));
    EXPECT_EQ(index.container, "safetensors");
    ASSERT_EQ(index.tensors.size(), 5u);
    EXPECT_EQ(index.tensors[0].key, "a.weight");
    EXPECT_EQ(index.tensors[0].info->shape, (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(index.tensors[0].info->stride, (std::vector<int64_t>{4, 1}));
    EXPECT_EQ(index.tensors[1].info->dtype, DType::F16);
    EXPECT_EQ(index.tensors[2].info->dtype, DType::BF16);
    EXPECT_EQ(index.tensors[3].info->dtype, DType::I64);
    EXPECT_EQ(index.tensors[4].numel(), 0u);
    EXPECT_EQ(index.metadata.at("format"), "pt");
    // bf16 1.5 is 0x3FC0: the offset must point at it.
    const auto& b = index.tensors[2];
    uint16_t first = 0;
    std::memcpy(&first, index.files[0]->data() + b.info->storage->data_offset, 2);
    EXPECT_EQ(first, 0x3FC0);
}

} // namespace
} // namespace ckptconv::core
