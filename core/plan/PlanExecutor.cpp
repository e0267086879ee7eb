// The tensor work: the only translation unit of the plan engine that includes ATen.
#include "core/plan/PlanExecutor.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"

#include <ATen/ATen.h>

namespace ckptconv::core {
namespace {

at::ScalarType scalar_type(DType d) {
    switch (d) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::Bool: return at::kBool;
    case DType::C64: return at::kComplexFloat;
    case DType::C128: return at::kComplexDouble;
    default:
        throw Error(ExitCode::PlanRejected,
                    "dtype " + std::string(dtype_name(d)) + " has no tensor kernel in this build");
    }
}

bool is_floating(DType d) { return d == DType::F16 || d == DType::BF16 || d == DType::F32 || d == DType::F64; }

at::Tensor evaluate(const CheckpointIndex& index, const Plan& plan, int64_t expr) {
    const PlanNode& n = plan.nodes.at(static_cast<size_t>(expr));
    auto in = [&](size_t i) { return evaluate(index, plan, n.inputs.at(i)); };
    switch (n.kind) {
    case OpKind::Source: {
        const TensorInfo& t = *index.tensors.at(n.source_tensor).info;
        // A read-only view of the mapping: every op below makes a new tensor, nothing writes here.
        auto* base = const_cast<uint8_t*>(index.files.at(t.storage->file)->data()) + tensor_file_offset(t);
        return at::from_blob(base, t.shape, t.stride, at::TensorOptions().dtype(scalar_type(t.dtype)));
    }
    case OpKind::Chunk: {
        const at::Tensor x = in(0);
        const int64_t size = x.size(n.dim) / n.a;
        return x.narrow(n.dim, n.b * size, size);
    }
    case OpKind::Cat: {
        std::vector<at::Tensor> parts;
        for (size_t i = 0; i < n.inputs.size(); ++i) parts.push_back(in(i));
        return at::cat(parts, n.dim);
    }
    case OpKind::Narrow: return in(0).narrow(n.dim, n.a, n.b);
    case OpKind::Pad: {
        const at::Tensor x = in(0);
        if (n.a <= x.size(n.dim)) return x.narrow(n.dim, 0, n.a);
        auto sizes = x.sizes().vec();
        sizes[static_cast<size_t>(n.dim)] = n.a - x.size(n.dim);
        return at::cat({x, at::zeros(sizes, x.options())}, n.dim);
    }
    case OpKind::Reshape: return in(0).reshape(n.shape);
    case OpKind::Permute: return in(0).permute(n.dims);
    case OpKind::Cast: return in(0).to(scalar_type(n.dtype));
    case OpKind::Zeros: return at::zeros(n.shape, at::TensorOptions().dtype(scalar_type(n.dtype)));
    case OpKind::Constant:
        return at::from_blob(const_cast<char*>(n.bytes.data()), n.shape,
                             at::TensorOptions().dtype(scalar_type(n.dtype)))
            .clone();
    }
    throw Error(ExitCode::Internal, "unknown plan op");
}

} // namespace

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

bool PlanExecutor::is_direct_copy(size_t output) const {
    const PlanNode& n = plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(data_output(output)).expr));
    return n.kind == OpKind::Source && dtype(output) == n.dtype &&
           is_row_major(*index_.tensors.at(n.source_tensor).info);
}

void PlanExecutor::write(size_t output, FileWriter& out) const {
    const size_t o = data_output(output);
    const PlanNode& n = plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(o).expr));
    if (is_direct_copy(o)) {
        const TensorInfo& t = *index_.tensors.at(n.source_tensor).info;
        out.copy_from(*index_.files.at(t.storage->file), tensor_file_offset(t), nbytes(o));
        return;
    }
    {
        at::Tensor t = evaluate(index_, plan_, plan_.outputs.at(o).expr);
        if (cast_result(n.dtype, cast_to_) != n.dtype) t = t.to(scalar_type(cast_result(n.dtype, cast_to_)));
        t = t.contiguous();
        out.write(t.data_ptr(), t.nbytes());
    }
    // The sources were read through the mapping: drop their pages from the resident set (they stay
    // in the page cache for the next output that reads them), so peak RSS stays about one output.
    for (uint64_t s : sources_of(plan_, plan_.outputs.at(o).expr)) {
        const TensorInfo& src = *index_.tensors.at(s).info;
        index_.files.at(src.storage->file)->release(src.storage->data_offset, src.storage->nbytes);
    }
}

std::string PlanExecutor::bytes(size_t output) const {
    const size_t o = data_output(output);
    const PlanNode& n = plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(o).expr));
    at::Tensor t = evaluate(index_, plan_, plan_.outputs.at(o).expr);
    if (cast_result(n.dtype, cast_to_) != n.dtype) t = t.to(scalar_type(cast_result(n.dtype, cast_to_)));
    t = t.contiguous();
    return std::string(static_cast<const char*>(t.data_ptr()), t.nbytes());
}

} // namespace ckptconv::core
