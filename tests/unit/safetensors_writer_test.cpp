#include "core/io/CheckpointOpener.hpp"
#include "core/io/SafetensorsWriter.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace ckptconv::core {
namespace {

SafetensorsEntry entry(const std::string& name, DType dtype, std::vector<int64_t> shape, char fill) {
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype;
    e.shape = shape;
    e.nbytes = element_size(dtype);
    for (int64_t d : shape) e.nbytes *= static_cast<uint64_t>(d);
    const uint64_t n = e.nbytes;
    e.write = [n, fill](FileWriter& out) { out.write(std::string(n, fill)); };
    return e;
}

TEST(SafetensorsWriter, SingleFileSortsByDtypeSizeThenNameAndRecordsAliases) {
    test::TempDir dir;
    OutputTransaction tx(false, {});
    SafetensorsOptions opts;
    opts.aliases["lm_head.weight"] = "embed.weight";
    const auto reports =
        write_safetensors(tx, dir / "m.safetensors",
                          {entry("z.half", DType::F16, {3}, 'a'), entry("embed.weight", DType::F32, {2, 2}, 'b'),
                           entry("a.byte", DType::U8, {5}, 'c')},
                          opts);
    tx.commit();
    ASSERT_EQ(reports.size(), 1u);
    const CheckpointIndex back = open_checkpoint((dir / "m.safetensors").string());
    ASSERT_EQ(back.tensors.size(), 3u);
    EXPECT_EQ(back.metadata.at("format"), "pt");
    EXPECT_EQ(back.metadata.at("lm_head.weight"), "embed.weight");
    // Data order: f32, f16, u8.
    std::vector<uint64_t> offsets;
    for (const auto& t : back.tensors) offsets.push_back(t.info->storage->data_offset);
    const auto at = [&](const std::string& k) {
        for (const auto& t : back.tensors)
            if (t.key == k) return t.info->storage->data_offset;
        return uint64_t{0};
    };
    EXPECT_LT(at("embed.weight"), at("z.half"));
    EXPECT_LT(at("z.half"), at("a.byte"));
    EXPECT_EQ((at("embed.weight") - 8) % 8, 0u); // header padded to 8
}

TEST(SafetensorsWriter, ShardsGreedilyWithHubNamesAndIndex) {
    test::TempDir dir;
    OutputTransaction tx(false, {});
    SafetensorsOptions opts;
    opts.shard_size = 100;
    const auto reports = write_safetensors(tx, dir / "model.safetensors",
                                           {entry("a", DType::F32, {20}, 'a'), entry("b", DType::F32, {5}, 'b'),
                                            entry("c", DType::F32, {30}, 'c'), entry("d", DType::F32, {1}, 'd')},
                                           opts);
    tx.commit();
    // huggingface_hub: c (over the cap) is a shard at once while [a, b] (exactly at the cap) stays open until d
    // overflows it, so the files are [c], [a, b], [d]; plus the index.
    ASSERT_EQ(reports.size(), 4u);
    EXPECT_TRUE(std::filesystem::exists(dir / "model-00001-of-00003.safetensors"));
    EXPECT_TRUE(std::filesystem::exists(dir / "model-00003-of-00003.safetensors"));
    EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
    std::ifstream f(dir / "model.safetensors.index.json");
    const auto index = nlohmann::json::parse(f);
    EXPECT_EQ(index["metadata"]["total_size"], 224);
    EXPECT_EQ(index["weight_map"]["c"].get<std::string>(), "model-00001-of-00003.safetensors");
    EXPECT_EQ(index["weight_map"]["a"].get<std::string>(), "model-00002-of-00003.safetensors");
    EXPECT_EQ(index["weight_map"]["b"].get<std::string>(), "model-00002-of-00003.safetensors");
    EXPECT_EQ(index["weight_map"]["d"].get<std::string>(), "model-00003-of-00003.safetensors");
    const CheckpointIndex back = open_checkpoint((dir / "model.safetensors.index.json").string());
    EXPECT_EQ(back.tensors.size(), 4u);
}

TEST(SafetensorsWriter, ByteSizes) {
    EXPECT_EQ(parse_byte_size("5GB"), 5'000'000'000u);
    EXPECT_EQ(parse_byte_size("500MB"), 500'000'000u);
    EXPECT_EQ(parse_byte_size("2GiB"), 2147483648u);
    EXPECT_EQ(parse_byte_size("1.5kb"), 1500u);
    EXPECT_EQ(parse_byte_size("4096"), 4096u);
    EXPECT_THROW(parse_byte_size("lots"), Error);
    EXPECT_THROW(parse_byte_size("5XB"), Error);
    EXPECT_THROW(parse_byte_size("0"), Error);
}

} // namespace
} // namespace ckptconv::core
