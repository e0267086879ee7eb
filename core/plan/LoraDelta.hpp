// The update of a LoRA merge, scale·(B·A) in fp32, without libtorch's matmul: Debian's libtorch
// has only its generic BLAS (about 1.4 GFLOP/s here), which made a 2B rank-128 merge take 77 s.
#pragma once

#include <cstdint>

namespace ckptconv::core {

/**
 * delta[o][j] = float(scale) · Σ_k b[o][k]·a[k][j], the sum over k in order, in fp32,
 * multiplies and adds rounded separately (as torch's generic gemm does). a is
 * [r][in], b [out][r], delta [out][in], all row-major. Uses both cores.
 */
void lora_delta(const float* a, const float* b, float* delta, int64_t out, int64_t in, int64_t r, double scale);

/** The same on the calling thread only (for callers that already keep both cores busy); the same bits. */
void lora_delta_one_core(const float* a, const float* b, float* delta, int64_t out, int64_t in, int64_t r,
                         double scale);

} // namespace ckptconv::core
