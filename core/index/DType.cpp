#include "core/index/DType.hpp"

#include <array>

namespace ckptconv::core {
namespace {

struct Row {
    DType dtype;
    uint32_t size;
    std::string_view name;
    std::string_view storage_class; // legacy typed storage; "" = UntypedStorage + _rebuild_tensor_v3
    std::string_view torch_name;
    std::string_view safetensors;
};

constexpr std::array<Row, 17> kRows{{
    {DType::F64, 8, "f64", "DoubleStorage", "float64", "F64"},
    {DType::F32, 4, "f32", "FloatStorage", "float32", "F32"},
    {DType::F16, 2, "f16", "HalfStorage", "float16", "F16"},
    {DType::BF16, 2, "bf16", "BFloat16Storage", "bfloat16", "BF16"},
    {DType::I64, 8, "i64", "LongStorage", "int64", "I64"},
    {DType::I32, 4, "i32", "IntStorage", "int32", "I32"},
    {DType::I16, 2, "i16", "ShortStorage", "int16", "I16"},
    {DType::I8, 1, "i8", "CharStorage", "int8", "I8"},
    {DType::U8, 1, "u8", "ByteStorage", "uint8", "U8"},
    {DType::Bool, 1, "bool", "BoolStorage", "bool", "BOOL"},
    {DType::C64, 8, "c64", "ComplexFloatStorage", "complex64", "C64"},
    {DType::C128, 16, "c128", "ComplexDoubleStorage", "complex128", "C128"},
    {DType::F8E4M3FN, 1, "f8_e4m3fn", "", "float8_e4m3fn", "F8_E4M3"},
    {DType::F8E5M2, 1, "f8_e5m2", "", "float8_e5m2", "F8_E5M2"},
    {DType::U16, 2, "u16", "", "uint16", "U16"},
    {DType::U32, 4, "u32", "", "uint32", "U32"},
    {DType::U64, 8, "u64", "", "uint64", "U64"},
}};

template <class F> const Row* find_row(F&& pred) {
    for (const auto& r : kRows)
        if (pred(r)) return &r;
    return nullptr;
}

} // namespace

uint32_t element_size(DType dtype) {
    const Row* r = find_row([&](const Row& row) { return row.dtype == dtype; });
    return r ? r->size : 0;
}

std::string_view dtype_name(DType dtype) {
    const Row* r = find_row([&](const Row& row) { return row.dtype == dtype; });
    return r ? r->name : "invalid";
}

std::optional<DType> dtype_from_name(std::string_view name) {
    const Row* r = find_row([&](const Row& row) { return row.name == name; });
    return r ? std::optional<DType>(r->dtype) : std::nullopt;
}

std::optional<DType> dtype_from_storage_class(std::string_view class_name) {
    if (class_name.empty()) return std::nullopt;
    const Row* r = find_row([&](const Row& row) { return row.storage_class == class_name; });
    return r ? std::optional<DType>(r->dtype) : std::nullopt;
}

std::string_view storage_class_name(DType dtype) {
    const Row* r = find_row([&](const Row& row) { return row.dtype == dtype; });
    return r ? r->storage_class : "";
}

std::string_view torch_dtype_name(DType dtype) {
    const Row* r = find_row([&](const Row& row) { return row.dtype == dtype; });
    return r ? r->torch_name : "";
}

std::optional<DType> dtype_from_torch_name(std::string_view name) {
    // torch also exposes aliases: float, double, half, long, int, short.
    if (name == "float") return DType::F32;
    if (name == "double") return DType::F64;
    if (name == "half") return DType::F16;
    if (name == "long") return DType::I64;
    if (name == "int") return DType::I32;
    if (name == "short") return DType::I16;
    const Row* r = find_row([&](const Row& row) { return row.torch_name == name; });
    return r ? std::optional<DType>(r->dtype) : std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
    const Row* r = find_row([&](const Row& row) { return row.safetensors == name; });
    return r ? std::optional<DType>(r->dtype) : std::nullopt;
}

std::string_view safetensors_name(DType dtype) {
    const Row* r = find_row([&](const Row& row) { return row.dtype == dtype; });
    return r ? r->safetensors : "";
}

} // namespace ckptconv::core
