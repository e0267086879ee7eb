#include "core/plan/LoraDelta.hpp"

#include "core/util/FaultGuard.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

namespace ckptconv::core {
namespace {

// Measured on this VM (one core, 5760 x 1920, r 128, -O3): AVX-512 6 x 32 tiles 50.8 GFLOP/s, the same
// rows 4..12 within 6%; AVX2 6 x 16 tiles 37; 8 x 16 spills. Without FMA the multiplies and adds share
// the vector ports, so wider vectors are the gain left.
constexpr int64_t kRows = 6;      // output rows of one register tile: 12 accumulators + 2 loads
constexpr int64_t kMinSplit = 64; // rows below which a second thread costs more than it saves

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

// Rows [first, last) of one panel of 2 vectors' width of the output, from A's panel packed as r rows of
// that width: the kRows x 2 tile of sums stays in registers over all of k. Multiplies and adds round on
// their own (the file is built with -ffp-contract=off), in the order of a plain loop over k.
template <typename V>
[[gnu::always_inline]] inline void panel(const float* packed, const float* b, float* delta, int64_t first, int64_t last,
                                         int64_t in, int64_t r, float scale) {
    constexpr int64_t kWidth = sizeof(V) / sizeof(float), kCols = 2 * kWidth;
    int64_t o = first;
    for (; o + kRows <= last; o += kRows) {
        V c[kRows][2] = {};
        const float* b0 = b + o * r;
        for (int64_t k = 0; k < r; ++k) {
            V a0, a1;
            std::memcpy(&a0, packed + k * kCols, sizeof a0);
            std::memcpy(&a1, packed + k * kCols + kWidth, sizeof a1);
            for (int64_t i = 0; i < kRows; ++i) {
                const float bik = b0[i * r + k];
                const V m0 = a0 * bik;
                const V m1 = a1 * bik;
                c[i][0] = c[i][0] + m0;
                c[i][1] = c[i][1] + m1;
            }
        }
        for (int64_t i = 0; i < kRows; ++i) {
            const V s0 = c[i][0] * scale, s1 = c[i][1] * scale;
            std::memcpy(delta + (o + i) * in, &s0, sizeof s0);
            std::memcpy(delta + (o + i) * in + kWidth, &s1, sizeof s1);
        }
    }
    for (; o < last; ++o) // the last rows of the range, one at a time, in the same order
        for (int64_t j = 0; j < kCols; ++j) {
            float acc = 0;
            for (int64_t k = 0; k < r; ++k) acc = acc + b[o * r + k] * packed[k * kCols + j];
            delta[o * in + j] = acc * scale;
        }
}

using PanelFn = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, float);

__attribute__((target("avx512f"))) void panel_avx512(const float* packed, const float* b, float* delta, int64_t first,
                                                     int64_t last, int64_t in, int64_t r, float s) {
    panel<v16>(packed, b, delta, first, last, in, r, s);
}
__attribute__((target("avx2"))) void panel_avx2(const float* packed, const float* b, float* delta, int64_t first,
                                                int64_t last, int64_t in, int64_t r, float s) {
    panel<v8>(packed, b, delta, first, last, in, r, s);
}
void panel_portable(const float* packed, const float* b, float* delta, int64_t first, int64_t last, int64_t in,
                    int64_t r, float s) {
    panel<v8>(packed, b, delta, first, last, in, r, s);
}

struct Panel {
    int64_t cols; // output columns one call covers: two vectors
    PanelFn fn;
};

// The widest vectors this CPU has; every choice gives the same bits.
const Panel& best_panel() {
    static const Panel chosen = __builtin_cpu_supports("avx512f") ? Panel{32, panel_avx512}
                                : __builtin_cpu_supports("avx2")  ? Panel{16, panel_avx2}
                                                                  : Panel{16, panel_portable};
    return chosen;
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
    const Panel& p = best_panel();
    std::vector<float> packed(static_cast<size_t>(r * p.cols));
    int64_t j0 = 0;
    for (; j0 + p.cols <= in; j0 += p.cols) {
        for (int64_t k = 0; k < r; ++k)
            std::memcpy(&packed[static_cast<size_t>(k * p.cols)], a + k * in + j0, static_cast<size_t>(p.cols) * 4);
        p.fn(packed.data(), b, delta + j0, first, last, in, r, scale);
    }
    if (j0 < in) edge_columns(a, b, delta, first, last, j0, in, r, scale);
}

} // namespace

void lora_delta_one_core(const float* a, const float* b, float* delta, int64_t out, int64_t in, int64_t r,
                         double scale) {
    rows_range(a, b, delta, 0, out, in, r, static_cast<float>(scale));
}

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
