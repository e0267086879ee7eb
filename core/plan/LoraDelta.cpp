#include "core/plan/LoraDelta.hpp"

#include "core/util/FaultGuard.hpp"

#include <algorithm>
#include <thread>

namespace ckptconv::core {
namespace {

// Measured on this VM (2 cores, 1920 x 1920, r 128): 16 x 128 gave 24.6 GFLOP/s, 4 x 512 19.8, 8 x 256 15.8.
constexpr int64_t kRows = 16;     // output rows sharing one pass over a column block of A
constexpr int64_t kCols = 128;    // floats per column block: the 16 x 128 accumulators (8 KB) stay in L1
constexpr int64_t kMinSplit = 64; // rows below which a second thread costs more than it saves

// One block of kRows output rows. Vectorised by the compiler; an AVX2 clone where the CPU has it.
// No FMA, so each multiply and add rounds on its own, as in a plain loop.
__attribute__((target_clones("avx2", "default"))) void rows_block(const float* a, const float* b, float* delta,
                                                                  int64_t rows, int64_t in, int64_t r, float scale) {
    for (int64_t j0 = 0; j0 < in; j0 += kCols) {
        const int64_t n = std::min(kCols, in - j0);
        float acc[kRows][kCols] = {};
        for (int64_t k = 0; k < r; ++k) {
            const float* ak = a + k * in + j0;
            for (int64_t i = 0; i < rows; ++i) {
                const float bik = b[i * r + k];
                float* acc_i = acc[i];
                for (int64_t j = 0; j < n; ++j) acc_i[j] += bik * ak[j];
            }
        }
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < n; ++j) delta[i * in + j0 + j] = acc[i][j] * scale;
    }
}

void rows_range(const float* a, const float* b, float* delta, int64_t first, int64_t last, int64_t in, int64_t r,
                float scale) {
    for (int64_t o = first; o < last; o += kRows)
        rows_block(a, b + o * r, delta + o * in, std::min(kRows, last - o), in, r, scale);
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
