// Value comparison of two tensors' row-major bytes (libtorch does the arithmetic).
#pragma once

#include "core/index/DType.hpp"

#include <string_view>
#include <vector>

namespace ckptconv::core {

/** max |a - b| over all elements, computed in float64; NaN when either side holds a NaN where the other does not. */
double max_abs_diff(DType dtype_a, std::string_view a, DType dtype_b, std::string_view b,
                    const std::vector<int64_t>& shape);

} // namespace ckptconv::core
