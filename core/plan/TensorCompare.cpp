#include "core/plan/TensorCompare.hpp"

#include <ATen/ATen.h>

#include <limits>

namespace ckptconv::core {
namespace {

at::Tensor as_double(DType dtype, std::string_view bytes, const std::vector<int64_t>& shape) {
    static const std::pair<DType, at::ScalarType> kTypes[] = {
        {DType::F64, at::kDouble}, {DType::F32, at::kFloat}, {DType::F16, at::kHalf},  {DType::BF16, at::kBFloat16},
        {DType::I64, at::kLong},   {DType::I32, at::kInt},   {DType::I16, at::kShort}, {DType::I8, at::kChar},
        {DType::U8, at::kByte},    {DType::Bool, at::kBool}};
    for (const auto& [d, t] : kTypes)
        if (d == dtype)
            return at::from_blob(const_cast<char*>(bytes.data()), shape, at::TensorOptions().dtype(t)).to(at::kDouble);
    return {};
}

} // namespace

double max_abs_diff(DType dtype_a, std::string_view a, DType dtype_b, std::string_view b,
                    const std::vector<int64_t>& shape) {
    const at::Tensor x = as_double(dtype_a, a, shape);
    const at::Tensor y = as_double(dtype_b, b, shape);
    if (!x.defined() || !y.defined()) return std::numeric_limits<double>::quiet_NaN();
    if (x.numel() == 0) return 0;
    const at::Tensor nan_x = x.isnan();
    const at::Tensor nan_y = y.isnan();
    if (!at::equal(nan_x, nan_y)) return std::numeric_limits<double>::quiet_NaN();
    const at::Tensor d = (x - y).abs().masked_fill(nan_x, 0).nan_to_num(0, std::numeric_limits<double>::infinity());
    return d.max().item<double>();
}

} // namespace ckptconv::core
