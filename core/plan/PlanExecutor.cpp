#include "core/plan/PlanExecutor.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/plan/TensorEngine.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::core {
namespace {

bool is_floating(DType d) { return d == DType::F16 || d == DType::BF16 || d == DType::F32 || d == DType::F64; }

} // namespace

std::optional<DType> dtype_option_target(const std::string& dtype_option) {
    if (dtype_option == "fp32") return DType::F32;
    if (dtype_option == "fp16") return DType::F16;
    if (dtype_option == "bf16") return DType::BF16;
    return std::nullopt;
}

DType cast_result(DType dtype, std::optional<DType> cast_to) {
    return cast_to && is_floating(dtype) ? *cast_to : dtype;
}

PlanExecutor::PlanExecutor(const CheckpointIndex& index, const Plan& plan, std::optional<DType> cast_to)
    : index_(index), plan_(plan), cast_to_(cast_to) {}

size_t PlanExecutor::data_output(size_t output) const {
    const PlanOutput& o = plan_.outputs.at(output);
    return o.alias_of ? *o.alias_of : output;
}

DType PlanExecutor::dtype(size_t output) const {
    return cast_result(plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(data_output(output)).expr)).dtype, cast_to_);
}

const Shape& PlanExecutor::shape(size_t output) const {
    return plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(data_output(output)).expr)).shape;
}

uint64_t PlanExecutor::nbytes(size_t output) const {
    uint64_t n = element_size(dtype(output));
    for (int64_t d : shape(output)) n *= static_cast<uint64_t>(d);
    return n;
}

std::optional<std::vector<ByteRun>> PlanExecutor::runs(size_t o) const {
    const int64_t expr = plan_.outputs.at(o).expr;
    if (dtype(o) != plan_.nodes.at(static_cast<size_t>(expr)).dtype) return std::nullopt;
    return byte_runs(index_, plan_, expr);
}

bool PlanExecutor::is_byte_copy(size_t output) const { return runs(data_output(output)).has_value(); }

void PlanExecutor::write(size_t output, FileWriter& out) const {
    const size_t o = data_output(output);
    if (const auto byte_runs = runs(o)) {
        for (const ByteRun& r : *byte_runs) {
            if (r.file)
                out.copy_from(*r.file, r.offset, r.length);
            else if (r.memory)
                out.write(r.memory + r.offset, r.length);
            else
                out.zeros(r.length);
        }
        return;
    }
    const int64_t expr = plan_.outputs.at(o).expr;
    tensor_engine().evaluate(
        index_, plan_, expr, dtype(o),
        [](void* w, const void* data, uint64_t size) { static_cast<FileWriter*>(w)->write(data, size); }, &out);
    // The sources were read through the mapping: drop their pages from the resident set (they stay
    // in the page cache for the next output that reads them), so peak RSS stays about one output.
    for (uint64_t s : sources_of(plan_, expr)) {
        const TensorInfo& src = *index_.tensors.at(s).info;
        for (const StoragePiece& p : src.storage->pieces) index_.files.at(p.file)->release(p.offset, p.nbytes);
        if (!is_gathered(src))
            index_.files.at(src.storage->file)->release(src.storage->data_offset, src.storage->nbytes);
    }
}

std::string PlanExecutor::bytes(size_t output) const {
    const size_t o = data_output(output);
    std::string result;
    tensor_engine().evaluate(
        index_, plan_, plan_.outputs.at(o).expr, dtype(o),
        [](void* r, const void* data, uint64_t size) {
            static_cast<std::string*>(r)->append(static_cast<const char*>(data), size);
        },
        &result);
    return result;
}

} // namespace ckptconv::core
