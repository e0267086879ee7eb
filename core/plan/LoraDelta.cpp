#include "core/plan/LoraDelta.hpp"

#include "core/util/FaultGuard.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

namespace ckptconv::core {
namespace {

// Measured on this VM (2 cores, 1920 x 1920, r 128, -O3): 6 x 16 register tiles over a packed panel of A
// 39.6 GFLOP/s; 4 x 16 35.6, 8 x 16 25.7 (spills); the earlier 16 x 128 L1 blocks 24.6.
constexpr int64_t kRows = 6;      // output rows of one register tile: 12 accumulators + 2 loads of 16 vector registers
constexpr int64_t kCols = 16;     // output columns of one register tile (two 8-float vectors)
constexpr int64_t kMinSplit = 64; // rows below which a second thread costs more than it saves

typedef float v8 __attribute__((vector_size(32)));

// Rows [first, last) of one 16-column panel of the output, from A's panel packed as r x 16 floats: the
// 4 x 16 tile of sums stays in eight vector registers over all of k. An AVX2 clone where the CPU has
// it; no FMA, so each multiply and add rounds on its own, in the order of a plain loop over k.
__attribute__((target_clones("avx2", "default"))) void panel(const float* packed, const float* b, float* delta,
                                                             int64_t first, int64_t last, int64_t in, int64_t r,
                                                             float scale) {
    int64_t o = first;
    for (; o + kRows <= last; o += kRows) {
        v8 c[kRows][2] = {};
        const float* b0 = b + o * r;
        for (int64_t k = 0; k < r; ++k) {
            v8 a0, a1;
            std::memcpy(&a0, packed + k * kCols, sizeof a0);
            std::memcpy(&a1, packed + k * kCols + 8, sizeof a1);
            for (int64_t i = 0; i < kRows; ++i) {
                const float bik = b0[i * r + k];
                const v8 m0 = a0 * bik;
                const v8 m1 = a1 * bik;
                c[i][0] = c[i][0] + m0;
                c[i][1] = c[i][1] + m1;
            }
        }
        for (int64_t i = 0; i < kRows; ++i) {
            const v8 s0 = c[i][0] * scale, s1 = c[i][1] * scale;
            std::memcpy(delta + (o + i) * in, &s0, sizeof s0);
            std::memcpy(delta + (o + i) * in + 8, &s1, sizeof s1);
        }
    }
    for (; o < last; ++o) // the last rows of the range, one at a time, in the same order
        for (int64_t j = 0; j < kCols; ++j) {
            float acc = 0;
            for (int64_t k = 0; k < r; ++k) acc = acc + b[o * r + k] * packed[k * kCols + j];
            delta[o * in + j] = acc * scale;
        }
}

// Columns past the last full panel: plain sums, the same order.
void edge_columns(const float* a, const float* b, float* delta, int64_t first, int64_t last, int64_t j0, int64_t in,
                  int64_t r, float scale) {
    for (int64_t o = first; o < last; ++o)
        for (int64_t j = j0; j < in; ++j) {
            float acc = 0;
            for (int64_t k = 0; k < r; ++k) acc = acc + b[o * r + k] * a[k * in + j];
            delta[o * in + j] = acc * scale;
        }
}

void rows_range(const float* a, const float* b, float* delta, int64_t first, int64_t last, int64_t in, int64_t r,
                float scale) {
    std::vector<float> packed(static_cast<size_t>(r * kCols));
    int64_t j0 = 0;
    for (; j0 + kCols <= in; j0 += kCols) {
        for (int64_t k = 0; k < r; ++k)
            std::memcpy(&packed[static_cast<size_t>(k * kCols)], a + k * in + j0, kCols * 4);
        panel(packed.data(), b, delta + j0, first, last, in, r, scale);
    }
    if (j0 < in) edge_columns(a, b, delta, first, last, j0, in, r, scale);
}

} // namespace

void lora_delta(const float* a, const float* b, float* delta, int64_t out, int64_t in, int64_t r, double scale) {
    const auto s = static_cast<float>(scale); // torch multiplies an fp32 tensor by a Python float in fp32
    const int64_t half = out >= kMinSplit ? (out / 2 / kRows) * kRows : 0;
    if (half == 0) {
        rows_range(a, b, delta, 0, out, in, r, s);
        return;
    }
    std::thread helper;
    {
        const TerminationSignalsBlocked quiet; // the helper inherits the mask: signals go to the main thread
        helper = std::thread([=] { rows_range(a, b, delta, half, out, in, r, s); });
    }
    rows_range(a, b, delta, 0, half, in, r, s);
    helper.join();
}

} // namespace ckptconv::core
