// Element types, shared with the SDK's CKPTCONV_DTYPE_* codes.
#pragma once

#include <ckptconv/ckptconv_plugin.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ckptconv::core {

enum class DType : uint32_t {
    Invalid = CKPTCONV_DTYPE_INVALID,
    F64 = CKPTCONV_DTYPE_F64,
    F32 = CKPTCONV_DTYPE_F32,
    F16 = CKPTCONV_DTYPE_F16,
    BF16 = CKPTCONV_DTYPE_BF16,
    I64 = CKPTCONV_DTYPE_I64,
    I32 = CKPTCONV_DTYPE_I32,
    I16 = CKPTCONV_DTYPE_I16,
    I8 = CKPTCONV_DTYPE_I8,
    U8 = CKPTCONV_DTYPE_U8,
    Bool = CKPTCONV_DTYPE_BOOL,
    C64 = CKPTCONV_DTYPE_C64,
    C128 = CKPTCONV_DTYPE_C128,
    F8E4M3FN = CKPTCONV_DTYPE_F8_E4M3FN,
    F8E5M2 = CKPTCONV_DTYPE_F8_E5M2,
    U16 = CKPTCONV_DTYPE_U16,
    U32 = CKPTCONV_DTYPE_U32,
    U64 = CKPTCONV_DTYPE_U64,
};

/** Bytes per element; 0 for Invalid. */
uint32_t element_size(DType dtype);
/** Short name used in CLI output: "f32", "bf16", ... */
std::string_view dtype_name(DType dtype);
/** Inverse of dtype_name. */
std::optional<DType> dtype_from_name(std::string_view name);
/** Python torch storage class name ("FloatStorage") -> dtype. */
std::optional<DType> dtype_from_storage_class(std::string_view class_name);
/** The legacy typed storage class torch pickles for `dtype` ("FloatStorage"); "" for dtypes that need
 * UntypedStorage and _rebuild_tensor_v3. */
std::string_view storage_class_name(DType dtype);
/** Python torch dtype attribute ("float8_e4m3fn", "float32") -> dtype. */
std::optional<DType> dtype_from_torch_name(std::string_view name);
/** torch attribute name of a dtype ("float32"). */
std::string_view torch_dtype_name(DType dtype);
/** safetensors dtype string ("BF16") <-> dtype. */
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::string_view safetensors_name(DType dtype);

} // namespace ckptconv::core
