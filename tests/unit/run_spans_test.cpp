#include "core/io/FileWriter.hpp"
#include "core/io/FloatRounding.hpp"
#include "core/io/RunSpans.hpp"
#include "core/util/MappedFile.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace ckptconv::core {
namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RunSpans, ReadsAnySpanAcrossFileConstantAndZeroRuns) {
    test::TempDir dir;
    std::ofstream(dir / "f", std::ios::binary) << "0123456789";
    const MappedFile file((dir / "f").string());
    const char constant[] = "abcdef";
    const std::vector<ByteRun> runs{{&file, nullptr, 2, 5}, {nullptr, constant, 1, 3}, {nullptr, nullptr, 0, 2}};
    RunSpans spans(runs);
    std::string out(7, '?');
    spans.read(3, 7, out.data()); // from inside the first run to the end
    EXPECT_EQ(out, std::string("56bcd\0\0", 7));
}

TEST(RunSpans, WritesConvertedValuesAcrossRunsAndWriteBuffersLikeOneConversion) {
    test::TempDir dir;
    // 3 M floats (12 MB): past several write buffers, so both cores convert and elements meet buffer ends.
    std::vector<float> values(3u << 20);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 1.000123f - 7.5f;
    std::ofstream(dir / "f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
    const MappedFile file((dir / "f32").string());
    const uint64_t half = values.size() * 2; // bytes: the file in two runs, out of order
    const std::vector<ByteRun> runs{{&file, nullptr, half, half}, {&file, nullptr, 0, half}};
    FileWriter out((dir / "bf16").string());
    out.write("x", 1);
    write_converted(runs, DType::F32, DType::BF16, out);
    out.close();
    std::vector<float> reordered(values.begin() + values.size() / 2, values.end());
    reordered.insert(reordered.end(), values.begin(), values.begin() + values.size() / 2);
    std::string expected(reordered.size() * 2, '\0');
    convert_floats(DType::F32, DType::BF16, reordered.data(), expected.data(), reordered.size());
    EXPECT_EQ(slurp(dir / "bf16"), "x" + expected);
}

} // namespace
} // namespace ckptconv::core
