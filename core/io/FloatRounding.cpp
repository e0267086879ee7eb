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

template <DType From> [[gnu::always_inline]] inline VecF widened(const unsigned char* p) {
    if constexpr (From == DType::F32) {
        VecF f;
        std::memcpy(&f, p, sizeof f);
        return f;
    } else {
        VecH h;
        std::memcpy(&h, p, sizeof h);
        return From == DType::BF16 ? bf16_widened(h) : f16_widened(h);
    }
}

template <DType From> [[gnu::always_inline]] inline float scalar_widened(const unsigned char* p) {
    if constexpr (From == DType::F32) {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    } else {
        uint16_t h;
        std::memcpy(&h, p, 2);
        return From == DType::BF16 ? float_of(static_cast<uint32_t>(h) << 16) : float_of_f16(h);
    }
}

template <DType To> [[gnu::always_inline]] inline void store(float f, unsigned char* p) {
    if constexpr (To == DType::F32) {
        std::memcpy(p, &f, 4);
    } else {
        const uint16_t h = To == DType::BF16 ? bf16_of(f) : f16_of(f);
        std::memcpy(p, &h, 2);
    }
}

template <DType To> [[gnu::always_inline]] inline void store(VecF f, unsigned char* p) {
    if constexpr (To == DType::F32) {
        std::memcpy(p, &f, sizeof f);
    } else {
        const VecH h = To == DType::BF16 ? bf16_narrowed(f) : f16_narrowed(f);
        std::memcpy(p, &h, sizeof h);
    }
}

// The loops are specialised per pair at compile time, so the widening and narrowing inline into one
// straight vector body: 16 lanes at a time, then the tail one element at a time, the same arithmetic.
template <DType From, DType To>
[[gnu::always_inline]] inline void convert_loop(const unsigned char* in, unsigned char* out, uint64_t count) {
    constexpr uint32_t a = From == DType::F32 ? 4 : 2, b = To == DType::F32 ? 4 : 2;
    uint64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) store<To>(widened<From>(in + i * a), out + i * b);
    for (; i < count; ++i) store<To>(scalar_widened<From>(in + i * a), out + i * b);
}

template <DType D>
[[gnu::always_inline]] inline void add_loop(const unsigned char* x, const unsigned char* y, unsigned char* out,
                                            uint64_t count) {
    constexpr uint32_t a = D == DType::F32 ? 4 : 2;
    uint64_t i = 0;
    for (; i + kLanes <= count; i += kLanes) store<D>(widened<D>(x + i * a) + widened<D>(y + i * a), out + i * a);
    for (; i < count; ++i) store<D>(scalar_widened<D>(x + i * a) + scalar_widened<D>(y + i * a), out + i * a);
}

template <DType From>
[[gnu::always_inline]] inline void convert_from(DType to, const unsigned char* in, unsigned char* out, uint64_t count) {
    if (to == DType::F32) convert_loop<From, DType::F32>(in, out, count);
    if (to == DType::F16) convert_loop<From, DType::F16>(in, out, count);
    if (to == DType::BF16) convert_loop<From, DType::BF16>(in, out, count);
}

// An AVX-512 or AVX2 clone where the CPU has one: what keeps a cast at the speed of copying.
__attribute__((target_clones("avx512f", "avx2", "default"))) void convert(DType from, DType to, const unsigned char* in,
                                                                          unsigned char* out, uint64_t count) {
    if (from == DType::F32) convert_from<DType::F32>(to, in, out, count);
    if (from == DType::F16) convert_from<DType::F16>(to, in, out, count);
    if (from == DType::BF16) convert_from<DType::BF16>(to, in, out, count);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void
add(DType d, const unsigned char* x, const unsigned char* y, unsigned char* out, uint64_t count) {
    if (d == DType::F32) add_loop<DType::F32>(x, y, out, count);
    if (d == DType::F16) add_loop<DType::F16>(x, y, out, count);
    if (d == DType::BF16) add_loop<DType::BF16>(x, y, out, count);
}

} // namespace

bool is_convertible_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

void convert_floats(DType from, DType to, const void* src, void* dst, uint64_t count) {
    if (!is_convertible_float(from) || !is_convertible_float(to))
        throw Error(ExitCode::Internal,
                    "convert_floats: " + std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to)));
    if (from == to) {
        std::memcpy(dst, src, count * element_size(from));
        return;
    }
    convert(from, to, static_cast<const unsigned char*>(src), static_cast<unsigned char*>(dst), count);
}

void add_floats(DType dtype, const void* x, const void* y, void* out, uint64_t count) {
    if (!is_convertible_float(dtype)) throw Error(ExitCode::Internal, "add_floats: " + std::string(dtype_name(dtype)));
    add(dtype, static_cast<const unsigned char*>(x), static_cast<const unsigned char*>(y),
        static_cast<unsigned char*>(out), count);
}

} // namespace ckptconv::core
