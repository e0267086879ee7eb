#include "core/io/FloatRounding.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace ckptconv::core {
namespace {

std::vector<uint16_t> narrowed(DType to, const std::vector<float>& in) {
    std::vector<uint16_t> out(in.size());
    convert_floats(DType::F32, to, in.data(), out.data(), in.size());
    return out;
}

TEST(FloatRounding, HalfRoundsToNearestEvenOverflowsAndKeepsSubnormals) {
    const float inf = std::numeric_limits<float>::infinity();
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even wins; 65520 rounds up to infinity; 2^-24 is the least subnormal.
    const auto h = narrowed(DType::F16, {1.0f, 1.0f + 0x1.0p-11f, 1.0f + 0x1.8p-11f, 65504.0f, 65520.0f, 0x1.0p-24f,
                                         -0.0f, inf, std::nanf("")});
    EXPECT_EQ(h, (std::vector<uint16_t>{0x3C00, 0x3C00, 0x3C01, 0x7BFF, 0x7C00, 0x0001, 0x8000, 0x7C00, 0x7E00}));
}

TEST(FloatRounding, BFloatRoundsToNearestEvenAndQuietsNaN) {
    const auto b = narrowed(DType::BF16, {1.0f, 1.0f + 0x1.0p-8f, 1.0f + 0x1.8p-8f, std::nanf("")});
    EXPECT_EQ(b, (std::vector<uint16_t>{0x3F80, 0x3F80, 0x3F81, 0x7FC0}));
}

TEST(FloatRounding, WideningIsExact) {
    const std::vector<uint16_t> halves{0x0001, 0x3C01, 0xFBFF};
    std::vector<float> out(3);
    convert_floats(DType::F16, DType::F32, halves.data(), out.data(), 3);
    EXPECT_EQ(out, (std::vector<float>{0x1.0p-24f, 1.0f + 0x1.0p-10f, -65504.0f}));
    const std::vector<uint16_t> bf{0x3F81};
    convert_floats(DType::BF16, DType::F32, bf.data(), out.data(), 1);
    EXPECT_EQ(out[0], 1.0f + 0x1.0p-7f);
}

} // namespace
} // namespace ckptconv::core
