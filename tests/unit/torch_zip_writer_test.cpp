#include "core/io/CheckpointOpener.hpp"
#include "core/io/TorchZipWriter.hpp"
#include "core/io/ZipReader.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace ckptconv::core {
namespace {

TEST(TorchZipWriter, RecordsAlignedCrcCheckedAndReadableAgain) {
    test::TempDir dir;
    const CheckpointIndex in = open_checkpoint(test::corpus("torch/legacy_ordereddict.pt"));
    const auto out = (dir / "model.v2.pt").string();
    write_torch_zip(in, *in.tree, out, "model.v2");
    {
        const MappedFile file(out);
        const ZipReader zip(file);
        ASSERT_NE(zip.find("model.v2/data.pkl"), nullptr);
        EXPECT_EQ(zip.read(*zip.find("model.v2/version")), "3\n");
        EXPECT_EQ(zip.read(*zip.find("model.v2/byteorder")), "little");
        for (const auto& e : zip.entries()) {
            EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
            EXPECT_NO_THROW(zip.read(e)) << e.name; // read() verifies the CRC
        }
    }
    const CheckpointIndex again = open_checkpoint(out);
    ASSERT_EQ(again.tensors.size(), in.tensors.size());
    EXPECT_EQ(again.storages.size(), in.storages.size());
    for (size_t i = 0; i < in.tensors.size(); ++i) {
        const auto& a = *in.tensors[i].info;
        const auto& b = *again.tensors[i].info;
        EXPECT_EQ(in.tensors[i].key, again.tensors[i].key);
        EXPECT_EQ(a.stride, b.stride);
        const uint64_t n = in.tensors[i].nbytes();
        if (n == 0) continue;
        // The viewed bytes are identical (views compared at their offsets in their storages).
        const auto* pa = in.files[0]->data() + a.storage->data_offset + a.storage_offset * element_size(a.dtype);
        const auto* pb = again.files[0]->data() + b.storage->data_offset + b.storage_offset * element_size(b.dtype);
        EXPECT_EQ(std::memcmp(pa, pb, element_size(a.dtype)), 0) << in.tensors[i].key;
    }
}

TEST(TorchZipWriter, ProvenanceIsARecordBesideThePickleThatTheReaderReturnsAsMetadata) {
    test::TempDir dir;
    const CheckpointIndex in = open_checkpoint(test::corpus("torch/legacy_ordereddict.pt"));
    const auto out = (dir / "m.pt").string();
    write_torch_zip(in, *in.tree, out, "m", {{"ckptconv.plugin", "x@1.0.0"}, {"ckptconv.options", "{}"}});
    const CheckpointIndex again = open_checkpoint(out);
    EXPECT_EQ(again.metadata,
              (std::map<std::string, std::string>{{"ckptconv.options", "{}"}, {"ckptconv.plugin", "x@1.0.0"}}));
    EXPECT_EQ(again.tensors.size(), in.tensors.size()); // the tree holds no trace of it
    write_torch_zip(in, *in.tree, (dir / "plain.pt").string(), "plain");
    const MappedFile plain((dir / "plain.pt").string());
    EXPECT_EQ(ZipReader(plain).find(std::string("plain/") + kTorchZipProvenanceRecord), nullptr);
}

} // namespace
} // namespace ckptconv::core
