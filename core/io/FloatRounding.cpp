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
    if (std::isnan(f)) return 0x7FC0;
    const uint32_t u = bits_of(f);
    return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
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

float load(DType d, const unsigned char* p) {
    uint16_t h;
    switch (d) {
    case DType::F32: {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    case DType::BF16: std::memcpy(&h, p, 2); return float_of(static_cast<uint32_t>(h) << 16);
    default: std::memcpy(&h, p, 2); return float_of_f16(h);
    }
}

void store(DType d, float f, unsigned char* p) {
    uint16_t h;
    switch (d) {
    case DType::F32: std::memcpy(p, &f, 4); return;
    case DType::BF16: h = bf16_of(f); break;
    default: h = f16_of(f); break;
    }
    std::memcpy(p, &h, 2);
}

} // namespace

bool is_convertible_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

void convert_floats(DType from, DType to, const void* src, void* dst, uint64_t count) {
    if (!is_convertible_float(from) || !is_convertible_float(to))
        throw Error(ExitCode::Internal,
                    "convert_floats: " + std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to)));
    const auto* in = static_cast<const unsigned char*>(src);
    auto* out = static_cast<unsigned char*>(dst);
    const uint32_t a = element_size(from), b = element_size(to);
    if (from == to) {
        std::memcpy(out, in, count * a);
        return;
    }
    for (uint64_t i = 0; i < count; ++i) store(to, load(from, in + i * a), out + i * b);
}

} // namespace ckptconv::core
