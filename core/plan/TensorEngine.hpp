// The tensor work that needs libtorch, loaded on first use from lib/ckptconv/libckptconv_engine.so,
// so that commands which never compute a tensor (inspect, detect, plugins, plain copies) do not pay
// libtorch's start-up time and memory.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace ckptconv::core {

/** Receives a computed tensor's contiguous row-major bytes. */
using ByteSink = void (*)(void* context, const void* data, uint64_t size);

/** Internal module interface: built in this tree with the same compiler, never by third parties. */
struct TensorEngineApi {
    uint32_t struct_size;
    /** Evaluates plan node `expr` over the mapped sources, casts it to `dtype`, passes the bytes to `sink`. */
    void (*evaluate)(const CheckpointIndex& index, const Plan& plan, int64_t expr, DType dtype, ByteSink sink,
                     void* context);
    /** max |a - b| in float64; NaN when NaNs do not line up or a dtype has no kernel. */
    double (*max_abs_diff)(DType dtype_a, std::string_view a, DType dtype_b, std::string_view b,
                           const std::vector<int64_t>& shape);
};

/** Name of the function the module exports. */
constexpr const char* kTensorEngineEntry = "ckptconv_tensor_engine_v1";

/** The engine, loaded once per process; throws Error(Internal) naming the file when it cannot be loaded. */
const TensorEngineApi& tensor_engine();

} // namespace ckptconv::core
