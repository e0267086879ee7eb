// The libtorch side of TensorEngineApi: the only translation unit that includes ATen.
#include "core/io/TensorBytes.hpp"
#include "core/plan/LoraDelta.hpp"
#include "core/plan/TensorEngine.hpp"
#include "core/util/Error.hpp"

#include <ATen/ATen.h>

#include <limits>

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

at::Tensor evaluate_node(const CheckpointIndex& index, const Plan& plan, int64_t expr) {
    const PlanNode& n = plan.nodes.at(static_cast<size_t>(expr));
    auto in = [&](size_t i) { return evaluate_node(index, plan, n.inputs.at(i)); };
    switch (n.kind) {
    case OpKind::Source: {
        const TensorInfo& t = *index.tensors.at(n.source_tensor).info;
        if (is_gathered(t)) { // partitions from several files (DeepSpeed): gathered, and rounded as the index says
            at::Tensor whole = at::empty(t.shape, at::TensorOptions().dtype(scalar_type(t.dtype)));
            read_gathered(index, *t.storage, whole.data_ptr());
            return whole;
        }
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
    case OpKind::AddLora: { // SAT's merge_linear_lora: scale·(B·A) in fp32, rounded to w's dtype, then added
        const at::Tensor w = in(0);
        const at::Tensor a = in(1).to(at::kFloat).contiguous();
        const at::Tensor b = in(2).to(at::kFloat).contiguous();
        at::Tensor delta = at::empty({b.size(0), a.size(1)}, at::TensorOptions().dtype(at::kFloat));
        lora_delta(a.data_ptr<float>(), b.data_ptr<float>(), delta.data_ptr<float>(), b.size(0), a.size(1), a.size(0),
                   n.scale);
        at::Tensor sum = delta.to(w.scalar_type());
        delta.reset(); // IEEE addition commutes: adding w in place gives the bits of w + delta, one buffer fewer
        return sum.add_(w);
    }
    }
    throw Error(ExitCode::Internal, "unknown plan op");
}

void evaluate(const CheckpointIndex& index, const Plan& plan, int64_t expr, DType dtype, ByteSink sink, void* context) {
    at::Tensor t = evaluate_node(index, plan, expr);
    if (t.scalar_type() != scalar_type(dtype)) t = t.to(scalar_type(dtype));
    t = t.contiguous();
    sink(context, t.data_ptr(), t.nbytes());
}

at::Tensor as_double(DType dtype, std::string_view bytes, const std::vector<int64_t>& shape) {
    switch (dtype) {
    case DType::F64:
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::I64:
    case DType::I32:
    case DType::I16:
    case DType::I8:
    case DType::U8:
    case DType::Bool:
        return at::from_blob(const_cast<char*>(bytes.data()), shape, at::TensorOptions().dtype(scalar_type(dtype)))
            .to(at::kDouble);
    default: return {};
    }
}

double max_abs_diff(DType dtype_a, std::string_view a, DType dtype_b, std::string_view b,
                    const std::vector<int64_t>& shape) {
    const at::Tensor x = as_double(dtype_a, a, shape);
    const at::Tensor y = as_double(dtype_b, b, shape);
    if (!x.defined() || !y.defined()) return std::numeric_limits<double>::quiet_NaN();
    if (x.numel() == 0) return 0;
    const at::Tensor nan_x = x.isnan();
    if (!at::equal(nan_x, y.isnan())) return std::numeric_limits<double>::quiet_NaN();
    const at::Tensor d = (x - y).abs().masked_fill(nan_x, 0).nan_to_num(0, std::numeric_limits<double>::infinity());
    return d.max().item<double>();
}

const TensorEngineApi kApi{sizeof(TensorEngineApi), &evaluate, &max_abs_diff};

} // namespace
} // namespace ckptconv::core

extern "C" __attribute__((visibility("default"))) const ckptconv::core::TensorEngineApi* ckptconv_tensor_engine_v1() {
    return &ckptconv::core::kApi;
}
