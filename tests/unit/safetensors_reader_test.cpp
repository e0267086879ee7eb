#include "core/io/SafetensorsReader.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

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

std::string write_safetensors(const test::TempDir& dir, const std::string& header, size_t body_bytes) {
    const std::string path = (dir / "t.safetensors").string();
    std::ofstream f(path, std::ios::binary);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header << std::string(body_bytes, '\0');
    return path;
}

TEST(Safetensors, OrdersTensorsByOffsetAndUnescapesNames) {
    test::TempDir dir;
    const std::string path = write_safetensors(dir,
                                               R"({"z":{"dtype":"U8","shape":[2],"data_offsets":[3,5]},)"
                                               R"("gr\u00f6\u00dfe":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})",
                                               5);
    const CheckpointIndex index = read_safetensors(path);
    ASSERT_EQ(index.tensors.size(), 2u);
    EXPECT_EQ(index.tensors[0].key, "gr\xc3\xb6\xc3\x9f"
                                    "e");
    EXPECT_EQ(index.tensors[1].key, "z");
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(index.tensors[i].storage_group, i);
        EXPECT_EQ(index.storages[i], index.tensors[i].info->storage);
    }
}

TEST(Safetensors, ADuplicateIsFoundAfterUnescaping) {
    test::TempDir dir;
    const std::string path = write_safetensors(dir,
                                               R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                               R"("\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                               2);
    try {
        read_safetensors(path);
        FAIL() << "a duplicate was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tensor 'a' appears twice"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace ckptconv::core
