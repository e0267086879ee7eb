#include "core/io/FileWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <unistd.h>
#include <zlib.h>

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

std::string pattern(uint64_t begin, uint64_t end) {
    std::string bytes;
    for (uint64_t i = begin; i < end; ++i) bytes.push_back(static_cast<char>(i * 131 % 251));
    return bytes;
}

uint32_t zlib_crc(const std::string& bytes) {
    return static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

TEST(FileWriter, MadeSpansCrossBuffersOnBothCoresAndElementsStraddlingABufferEnd) {
    test::TempDir dir;
    // Past two write buffers; 6-byte elements, so some element straddles a buffer's end.
    const uint64_t length = (9 << 20) + 6;
    bool workers[2] = {false, false};
    FileWriter out((dir / "made").string());
    out.write("head", 4);
    out.write_made(length, 6, [&](unsigned worker, uint64_t begin, uint64_t end, char* to) {
        ASSERT_EQ(begin % 6, 0u);
        ASSERT_TRUE(end % 6 == 0 || end == length);
        workers[worker] = true;
        const std::string bytes = pattern(begin, end);
        std::memcpy(to, bytes.data(), bytes.size());
    });
    out.write("tail", 4);
    EXPECT_EQ(out.position(), length + 8);
    out.close();
    EXPECT_TRUE(workers[0] && workers[1]);
    EXPECT_EQ(slurp(dir / "made"), "head" + pattern(0, length) + "tail");
}

// Whether the folder's file system takes O_DIRECT at all (tmpfs before Linux 6.6 does not).
bool takes_direct_io(const std::filesystem::path& dir) {
    const std::string probe = (dir / "probe").string();
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
    if (fd >= 0) ::close(fd);
    std::filesystem::remove(probe);
    return fd >= 0;
}

TEST(FileWriter, WritesTheSameBytesPastAndThroughThePageCache) {
    test::TempDir dir;
    const std::string bytes = pattern(0, (9u << 20) + 4097); // several buffers and an unaligned tail
    for (const bool through_cache : {false, true}) {
        write_outputs_through_cache(through_cache);
        const auto path = dir / (through_cache ? "cached" : "direct");
        FileWriter out(path.string());
        EXPECT_EQ(out.bypasses_cache(), !through_cache && takes_direct_io(dir.path()));
        out.write(bytes);
        out.close();
        EXPECT_EQ(slurp(path), bytes);
    }
    write_outputs_through_cache(false);
}

TEST(FileWriter, TrackedCrcCoversEveryWayOfAppendingAndSurvivesTurningOff) {
    test::TempDir dir;
    const std::string source = pattern(0, (3 << 20) + 17);
    std::ofstream(dir / "source", std::ios::binary) << source;
    const MappedFile mapped((dir / "source").string());
    FileWriter out((dir / "crc").string());
    out.write("untracked");
    out.track_crc(true);
    out.write("abc");
    out.zeros(5000);
    out.copy_from(mapped, 1, source.size() - 1); // large: read on both cores
    out.copy_from(mapped, 7, 100);               // small: from the mapping
    out.write_made(1 << 20, 2, [](unsigned, uint64_t begin, uint64_t end, char* to) {
        const std::string bytes = pattern(begin, end);
        std::memcpy(to, bytes.data(), bytes.size());
    });
    out.track_crc(false);
    out.write("untracked too");
    const std::string tracked =
        "abc" + std::string(5000, '\0') + source.substr(1) + source.substr(7, 100) + pattern(0, 1 << 20);
    EXPECT_EQ(out.crc(), zlib_crc(tracked));
    out.close();
    EXPECT_EQ(slurp(dir / "crc"), "untracked" + tracked + "untracked too");
}

TEST(FileWriter, PatchesBytesBothAlreadyHandedToTheDeviceAndStillBuffered) {
    test::TempDir dir;
    const std::string bytes = pattern(0, (10 << 20) + 333);
    FileWriter out((dir / "patched").string());
    out.write(bytes);
    out.patch(10, "early", 5);                                 // long written by the background thread
    out.patch(bytes.size() - 3, "end", 3);                     // still in the buffer being filled
    out.patch((8 << 20) - 2, "span", 4);                       // across a buffer boundary
    EXPECT_THROW(out.patch(bytes.size() - 1, "xy", 2), Error); // past the bytes written
    out.close();
    std::string expected = bytes;
    expected.replace(10, 5, "early");
    expected.replace(bytes.size() - 3, 3, "end");
    expected.replace((8 << 20) - 2, 4, "span");
    EXPECT_EQ(slurp(dir / "patched"), expected);
}

TEST(FileWriter, CopiesLargeRunsOfAFileExactlyAndRefusesRangesOutsideIt) {
    test::TempDir dir;
    const std::string source = pattern(0, (6 << 20) + 5);
    std::ofstream(dir / "source", std::ios::binary) << source;
    const MappedFile mapped((dir / "source").string());
    FileWriter out((dir / "copy").string());
    out.write("x");
    out.copy_from(mapped, 3, source.size() - 3);
    EXPECT_THROW(out.copy_from(mapped, 4, source.size()), Error);
    out.close();
    EXPECT_EQ(slurp(dir / "copy"), "x" + source.substr(3));
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
