#include "core/io/FileWriter.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace ckptconv::core {
namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FileWriter, CopiesAWholeFileByteForByte) {
    test::TempDir dir;
    std::string bytes(3 << 20, '\0'); // past one copy_file_range call's typical chunk of pages
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 % 251);
    std::ofstream(dir / "source", std::ios::binary) << bytes;
    FileWriter out((dir / "copy").string());
    out.copy_whole_file((dir / "source").string(), bytes.size());
    EXPECT_EQ(out.position(), bytes.size());
    out.close();
    EXPECT_EQ(slurp(dir / "copy"), bytes);
}

TEST(FileWriter, WritesLargeSpansInTwoHalvesAtTheirOffsets) {
    test::TempDir dir;
    const uint64_t length = (5 << 20) + 6; // past the split size, cut on 2-byte elements
    auto make = [](uint64_t begin, uint64_t end, const FileWriter::PartSink& sink) {
        std::string piece;
        for (uint64_t i = begin; i < end; ++i) { // in uneven pieces, as a converter hands them over
            piece.push_back(static_cast<char>(i * 131 % 251));
            if (piece.size() == 70001 || i + 1 == end) {
                sink(piece.data(), piece.size());
                piece.clear();
            }
        }
    };
    FileWriter out((dir / "halves").string());
    out.write("head", 4);
    out.write_in_halves(length, 2, make);
    out.write("tail", 4);
    EXPECT_EQ(out.position(), length + 8);
    out.close();
    std::string expected = "head";
    make(0, length, [&](const void* data, uint64_t size) { expected.append(static_cast<const char*>(data), size); });
    EXPECT_EQ(slurp(dir / "halves"), expected + "tail");
}

TEST(FileWriter, RefusesASourceWhoseSizeChangedSinceItWasChecked) {
    test::TempDir dir;
    std::ofstream(dir / "source", std::ios::binary) << "twelve bytes";
    FileWriter out((dir / "copy").string());
    try {
        out.copy_whole_file((dir / "source").string(), 20);
        FAIL() << "a source of the wrong size was copied";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        EXPECT_NE(std::string(e.what()).find("source"), std::string::npos) << e.what();
    }
}

TEST(FileWriter, RefusesToCopyIntoAFileAlreadyWritten) {
    test::TempDir dir;
    std::ofstream(dir / "source", std::ios::binary) << "abc";
    FileWriter out((dir / "copy").string());
    out.write("x");
    EXPECT_THROW(out.copy_whole_file((dir / "source").string(), 3), Error);
}

} // namespace
} // namespace ckptconv::core
