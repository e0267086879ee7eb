// Evaluates plan outputs one at a time from memory-mapped sources (libtorch does the tensor work).
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <optional>
#include <string>

namespace ckptconv::core {

class FileWriter;

class PlanExecutor {
  public:
    /** `cast_to`: the --dtype target, applied to floating-point outputs only. */
    PlanExecutor(const CheckpointIndex& index, const Plan& plan, std::optional<DType> cast_to);

    /** The output whose data `output` carries (itself, or the target of an alias). */
    size_t data_output(size_t output) const;
    DType dtype(size_t output) const;
    const Shape& shape(size_t output) const;
    uint64_t nbytes(size_t output) const;
    /** True when the output is a source's bytes as they are (no op, no cast, row-major). */
    bool is_direct_copy(size_t output) const;
    /** Appends the output's row-major bytes: a kernel-side copy when direct, else computed. */
    void write(size_t output, FileWriter& out) const;
    /** The output's row-major bytes in memory (for verify). */
    std::string bytes(size_t output) const;

  private:
    const CheckpointIndex& index_;
    const Plan& plan_;
    std::optional<DType> cast_to_;
};

/** The cast target of a --dtype value: nullopt for "keep", else f32/f16/bf16 for "fp32"/"fp16"/"bf16". */
std::optional<DType> dtype_option_target(const std::string& dtype_option);

/** dtype after --dtype: floating types become `cast_to`, the rest stay. */
DType cast_result(DType dtype, std::optional<DType> cast_to);

} // namespace ckptconv::core
