#include "core/io/FloatRounding.hpp"

#include "core/util/Error.hpp"

#include <cmath>
#include <cstring>

namespace ckptconv::core {
namespace {

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// c10::BFloat16's round_to_nearest_even: add half an ulp plus the parity bit, keep the top half; NaN stays quiet.
uint16_t bf16_of(float f) {
    const uint32_t u = bits_of(f);
    const auto rounded = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t{0x7FC0} : rounded;
}

// IEEE half from float, rounding to nearest even (the FP16 library's method, which c10::Half uses): scaling by
// 2^112 then 2^-110 lets the FPU do the rounding of normals, subnormals and overflow to infinity in one add.
uint16_t f16_of(float f) {
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = bits_of(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = float_of((bias >> 1) + 0x07800000u) + base;
    const uint32_t b = bits_of(base);
    const uint32_t exp_bits = (b >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = b & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

// Exact: every half is a float. Subnormal halves are normalised through the float multiply.
float float_of_f16(uint16_t h) {
    const uint32_t w = static_cast<uint32_t>(h) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    const float normalized = float_of((two_w >> 4) + exp_offset) * 0x1.0p-112f;
    const uint32_t magic_mask = 126u << 23;
    const float denormalized = float_of((two_w >> 17) | magic_mask) - 0.5f;
    const uint32_t denormalized_cutoff = 1u << 27;
    return float_of(sign | (two_w < denormalized_cutoff ? bits_of(denormalized) : bits_of(normalized)));
}

// The same steps on 16 lanes at a time (GCC vector extensions; the helpers are always inlined, so no vector
// crosses a call: CMake turns off -Wpsabi's note about vector arguments for this file).
typedef uint32_t VecU __attribute__((vector_size(64)));
typedef int32_t VecI __attribute__((vector_size(64)));
typedef float VecF __attribute__((vector_size(64)));
typedef uint16_t VecH __attribute__((vector_size(32)));
constexpr uint64_t kLanes = 16;

[[gnu::always_inline]] inline VecU select(VecI mask, VecU a, VecU b) { return (VecU)(mask ? (VecI)a : (VecI)b); }
[[gnu::always_inline]] inline VecF bf16_widened(VecH h) { return (VecF)(__builtin_convertvector(h, VecU) << 16); }

[[gnu::always_inline]] inline VecF f16_widened(VecH h) {
    const VecU w = __builtin_convertvector(h, VecU) << 16;
    const VecU two_w = w + w;
    const VecF normalized = (VecF)((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
    const VecF denormalized = (VecF)((two_w >> 17) | (126u << 23)) - 0.5f;
    return (VecF)((w & 0x80000000u) | select((VecI)(two_w < (1u << 27)), (VecU)denormalized, (VecU)normalized));
}

[[gnu::always_inline]] inline VecH bf16_narrowed(VecF f) {
    const VecU u = (VecU)f;
    const VecU rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return __builtin_convertvector(select((VecI)((u & 0x7FFFFFFFu) > 0x7F800000u), VecU{} + 0x7FC0u, rounded), VecH);
}

[[gnu::always_inline]] inline VecH f16_narrowed(VecF f) {
    const VecU w = (VecU)f;
    VecF base = ((VecF)(w & 0x7FFFFFFFu) * 0x1.0p+112f) * 0x1.0p-110f;
    const VecU shl1_w = w + w;
    VecU bias = shl1_w & 0xFF000000u;
    bias = select((VecI)(bias < 0x71000000u), VecU{} + 0x71000000u, bias);
    base = (VecF)((bias >> 1) + 0x07800000u) + base;
    const VecU b = (VecU)base;
    const VecU nonsign = ((b >> 13) & 0x00007C00u) + (b & 0x00000FFFu);
    const VecU result = ((w & 0x80000000u) >> 16) | select((VecI)(shl1_w > 0xFF000000u), VecU{} + 0x7E00u, nonsign);
    return __builtin_convertvector(result, VecH);
}

[[gnu::always_inline]] inline VecF widened(DType from, const unsigned char* p) {
    if (from == DType::F32) {
        VecF f;
        std::memcpy(&f, p, sizeof f);
        return f;
    }
    VecH h;
    std::memcpy(&h, p, sizeof h);
    return from == DType::BF16 ? bf16_widened(h) : f16_widened(h);
}

float scalar_widened(DType from, const unsigned char* p) {
    if (from == DType::F32) {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, p, 2);
    return from == DType::BF16 ? float_of(static_cast<uint32_t>(h) << 16) : float_of_f16(h);
}

// One loop per target: 16 lanes at a time (an AVX-512 or AVX2 clone where the CPU has one), then the tail
// one element at a time through the same arithmetic; this keeps a cast at the speed of copying.
__attribute__((target_clones("avx512f", "avx2", "default"))) void narrow(DType from, DType to, const unsigned char* in,
                                                                         unsigned char* out, uint64_t count) {
    const uint32_t in_size = element_size(from);
    uint64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        const VecF f = widened(from, in + i * in_size);
        const VecH h = to == DType::BF16 ? bf16_narrowed(f) : f16_narrowed(f);
        std::memcpy(out + 2 * i, &h, sizeof h);
    }
    for (; i < count; ++i) {
        const float f = scalar_widened(from, in + i * in_size);
        const uint16_t h = to == DType::BF16 ? bf16_of(f) : f16_of(f);
        std::memcpy(out + 2 * i, &h, 2);
    }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void widen(DType from, const unsigned char* in,
                                                                        unsigned char* out, uint64_t count) {
    uint64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        const VecF f = widened(from, in + i * 2);
        std::memcpy(out + 4 * i, &f, sizeof f);
    }
    for (; i < count; ++i) {
        const float f = scalar_widened(from, in + i * 2);
        std::memcpy(out + 4 * i, &f, 4);
    }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void
add16(DType d, const unsigned char* x, const unsigned char* y, unsigned char* out, uint64_t count) {
    uint64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        const VecF sum = widened(d, x + 2 * i) + widened(d, y + 2 * i);
        const VecH h = d == DType::BF16 ? bf16_narrowed(sum) : f16_narrowed(sum);
        std::memcpy(out + 2 * i, &h, sizeof h);
    }
    for (; i < count; ++i) {
        const float sum = scalar_widened(d, x + 2 * i) + scalar_widened(d, y + 2 * i);
        const uint16_t h = d == DType::BF16 ? bf16_of(sum) : f16_of(sum);
        std::memcpy(out + 2 * i, &h, 2);
    }
}

} // namespace

bool is_convertible_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

void convert_floats(DType from, DType to, const void* src, void* dst, uint64_t count) {
    if (!is_convertible_float(from) || !is_convertible_float(to))
        throw Error(ExitCode::Internal,
                    "convert_floats: " + std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to)));
    const auto* in = static_cast<const unsigned char*>(src);
    auto* out = static_cast<unsigned char*>(dst);
    const uint32_t a = element_size(from);
    if (from == to) {
        std::memcpy(out, in, count * a);
        return;
    }
    if (to == DType::F32)
        widen(from, in, out, count);
    else
        narrow(from, to, in, out, count);
}

void add_floats(DType dtype, const void* x, const void* y, void* out, uint64_t count) {
    const auto* a = static_cast<const unsigned char*>(x);
    const auto* b = static_cast<const unsigned char*>(y);
    if (dtype == DType::BF16 || dtype == DType::F16) {
        add16(dtype, a, b, static_cast<unsigned char*>(out), count);
        return;
    }
    if (dtype != DType::F32) throw Error(ExitCode::Internal, "add_floats: " + std::string(dtype_name(dtype)));
    for (uint64_t i = 0; i < count; ++i) {
        float p, q;
        std::memcpy(&p, a + 4 * i, 4);
        std::memcpy(&q, b + 4 * i, 4);
        const float sum = p + q;
        std::memcpy(static_cast<unsigned char*>(out) + 4 * i, &sum, 4);
    }
}

} // namespace ckptconv::core
