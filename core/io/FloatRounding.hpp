// Conversions between fp32, bf16 and fp16 element arrays without libtorch: rounding to nearest even,
// as torch's own casts do, so a value read through here has the bits `tensor.to(dtype)` gives.
#pragma once

#include "core/index/DType.hpp"

#include <cstdint>

namespace ckptconv::core {

/** True for the dtypes convert_floats handles (F32, F16, BF16). */
bool is_convertible_float(DType d);

/** `count` elements of `from` at `src` as `to` at `dst` (different buffers); widening is exact, narrowing rounds once.
 */
void convert_floats(DType from, DType to, const void* src, void* dst, uint64_t count);

/** out = x + y element by element in `dtype` as torch adds it: both widened to fp32, summed, rounded once. */
void add_floats(DType dtype, const void* x, const void* y, void* out, uint64_t count);

} // namespace ckptconv::core
