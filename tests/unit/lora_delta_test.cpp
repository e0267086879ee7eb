#include "core/plan/LoraDelta.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace ckptconv::core {
namespace {

// The definition: each output a sum over k in order, multiplies and adds rounded one by one, then scaled.
std::vector<float> plain(const std::vector<float>& a, const std::vector<float>& b, int64_t out, int64_t in, int64_t r,
                         double scale) {
    std::vector<float> d(static_cast<size_t>(out * in));
    for (int64_t o = 0; o < out; ++o)
        for (int64_t j = 0; j < in; ++j) {
            volatile float acc = 0; // volatile: no contraction or reordering in the reference either
            for (int64_t k = 0; k < r; ++k) {
                const float p = b[static_cast<size_t>(o * r + k)] * a[static_cast<size_t>(k * in + j)];
                acc = acc + p;
            }
            d[static_cast<size_t>(o * in + j)] = acc * static_cast<float>(scale);
        }
    return d;
}

TEST(LoraDelta, EqualsThePlainSumBitForBitAtAwkwardSizes) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    // Rows not a multiple of the block, columns past one block, one thread and two.
    for (const auto& [out, in, r] : {std::tuple<int64_t, int64_t, int64_t>{3, 5, 2}, {67, 700, 7}, {130, 1030, 16}}) {
        std::vector<float> a(static_cast<size_t>(r * in)), b(static_cast<size_t>(out * r));
        for (auto& x : a) x = normal(rng);
        for (auto& x : b) x = normal(rng);
        std::vector<float> got(static_cast<size_t>(out * in), -1.0f);
        lora_delta(a.data(), b.data(), got.data(), out, in, r, 0.125);
        const std::vector<float> want = plain(a, b, out, in, r, 0.125);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << out << "x" << in;
    }
}

} // namespace
} // namespace ckptconv::core
