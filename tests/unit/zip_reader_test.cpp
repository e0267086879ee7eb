#include "core/io/ZipReader.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(ZipReader, ListsTorchSaveRecordsAt64ByteAlignedOffsets) {
    const MappedFile file(test::corpus("torch/zip_ordereddict.pt"));
    const ZipReader zip(file);
    const ZipEntry* pkl = zip.find("zip_ordereddict/data.pkl");
    ASSERT_NE(pkl, nullptr);
    EXPECT_EQ(pkl->method, 0);
    EXPECT_NE(zip.find("zip_ordereddict/version"), nullptr);
    for (const auto& e : zip.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
    EXPECT_EQ(zip.read(*zip.find("zip_ordereddict/version")), "3\n");
    EXPECT_EQ(zip.stored_data(*pkl).substr(0, 2), "\x80\x02");
}

TEST(ZipReader, TruncatedArchiveIsBadInput) {
    const MappedFile file(test::corpus("_negative/truncated.pt"));
    try {
        ZipReader zip(file);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        EXPECT_NE(std::string(e.what()).find("truncated.pt"), std::string::npos);
    }
}

} // namespace
} // namespace ckptconv::core
