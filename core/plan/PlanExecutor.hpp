// Evaluates plan outputs one at a time from memory-mapped sources (libtorch does the tensor work).
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include "core/plan/ByteRuns.hpp"

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
    /** True when the output is source bytes moved about (renames, splits, cuts, pads): no arithmetic. */
    bool is_byte_copy(size_t output) const;
    /**
     * Appends the output's row-major bytes: byte copies go range by range from the source files
     * (kernel-side for large ranges), casts of moved bytes are converted from them in cache-sized
     * blocks; everything else is computed by the tensor engine.
     */
    void write(size_t output, FileWriter& out) const;
    /**
     * The output's row-major bytes in memory, always computed by the tensor engine: verify uses it,
     * so a fault in the byte-run lowering cannot hide behind itself.
     */
    std::string bytes(size_t output) const;

  private:
    /** Byte runs of values stored in `from` that the output holds converted (a cast of moved bytes). */
    struct CastRuns {
        std::vector<ByteRun> runs;
        DType from = DType::Invalid;
    };

    std::optional<std::vector<ByteRun>> runs(size_t data_output) const;
    std::optional<CastRuns> cast_runs(size_t data_output) const;
    /** A LoRA merge of a weight read as bytes, computed and written row block by row block; false if not one. */
    bool write_lora_merge(size_t data_output, FileWriter& out) const;
    /** Node `expr` computed by the tensor engine, as `as`. */
    std::string evaluated(int64_t expr, DType as) const;
    /** Node `expr` as fp32: widened here when its bytes are moved unchanged (no engine to load), else evaluated. */
    std::string as_f32(int64_t expr) const;

    const CheckpointIndex& index_;
    const Plan& plan_;
    std::optional<DType> cast_to_;
};

/** The cast target of a --dtype value: nullopt for "keep", else f32/f16/bf16 for "fp32"/"fp16"/"bf16". */
std::optional<DType> dtype_option_target(const std::string& dtype_option);

/** dtype after --dtype: floating types become `cast_to`, the rest stay. */
DType cast_result(DType dtype, std::optional<DType> cast_to);

} // namespace ckptconv::core
