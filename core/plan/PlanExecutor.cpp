#include "core/plan/PlanExecutor.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/FloatRounding.hpp"
#include "core/io/RunSpans.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/LoraDelta.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/plan/TensorEngine.hpp"
#include "core/util/Error.hpp"

#include <algorithm>
#include <vector>

namespace ckptconv::core {
namespace {

bool is_floating(DType d) { return d == DType::F16 || d == DType::BF16 || d == DType::F32 || d == DType::F64; }

// Rows of a LoRA merge per block. Each block packs A anew (r x in floats), so blocks must be tall for the
// packing to stay a small share: 240 rows of a 1920-wide fp32 update are 1.8 MB.
constexpr int64_t kMergeRows = 240;

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

std::optional<PlanExecutor::CastRuns> PlanExecutor::cast_runs(size_t o) const {
    const int64_t expr = plan_.outputs.at(o).expr;
    const PlanNode& n = plan_.nodes.at(static_cast<size_t>(expr));
    const DType to = dtype(o);
    if (!is_convertible_float(to)) return std::nullopt;
    if (n.kind == OpKind::Source) { // a DeepSpeed master read rounded: its pieces, rounded once on the way
        const TensorInfo& t = *index_.tensors.at(n.source_tensor).info;
        const DType stored = t.storage->pieces_dtype;
        if (is_gathered(t) && stored != t.dtype) {
            if (to != t.dtype || !is_convertible_float(stored)) return std::nullopt;
            CastRuns c{{}, stored};
            for (const StoragePiece& p : t.storage->pieces)
                c.runs.push_back({index_.files.at(p.file).get(), nullptr, p.offset, p.nbytes});
            return c;
        }
    }
    if (to != n.dtype && is_convertible_float(n.dtype)) // --dtype on moved bytes
        if (auto r = byte_runs(index_, plan_, expr)) return CastRuns{std::move(*r), n.dtype};
    if (n.kind == OpKind::Cast && to == n.dtype) { // a plan's own cast of moved bytes
        const int64_t input = n.inputs.at(0);
        const DType from = plan_.nodes.at(static_cast<size_t>(input)).dtype;
        if (is_convertible_float(from))
            if (auto r = byte_runs(index_, plan_, input)) return CastRuns{std::move(*r), from};
    }
    return std::nullopt;
}

bool PlanExecutor::write_lora_merge(size_t o, FileWriter& out) const {
    const PlanNode& n = plan_.nodes.at(static_cast<size_t>(plan_.outputs.at(o).expr));
    if (n.kind != OpKind::AddLora || dtype(o) != n.dtype || !is_convertible_float(n.dtype)) return false;
    auto w_runs = byte_runs(index_, plan_, n.inputs.at(0));
    if (!w_runs) return false;
    // A [r, in] and B [out, r] are small: read whole in fp32.
    const std::string a = as_f32(n.inputs.at(1)), b = as_f32(n.inputs.at(2));
    const int64_t rows = n.shape.at(0), in = n.shape.at(1);
    const int64_t r = plan_.nodes.at(static_cast<size_t>(n.inputs.at(1))).shape.at(0);
    const uint64_t row_bytes = static_cast<uint64_t>(in) * element_size(n.dtype);
    const auto* af = reinterpret_cast<const float*>(a.data());
    const auto* bf = reinterpret_cast<const float*>(b.data());
    // SAT's arithmetic row block by row block, each core its share of every write buffer: the update in fp32,
    // rounded to the weight's dtype, added in that dtype.
    struct Scratch {
        std::vector<float> delta;
        std::vector<char> rounded, weight;
    };
    RunSpans weights[2] = {RunSpans(*w_runs), RunSpans(*w_runs)};
    Scratch scratch[2];
    out.write_made(static_cast<uint64_t>(rows) * row_bytes, row_bytes,
                   [&](unsigned worker, uint64_t begin, uint64_t end, char* merged) {
                       Scratch& s = scratch[worker];
                       s.delta.resize(static_cast<size_t>(kMergeRows * in));
                       s.rounded.resize(kMergeRows * row_bytes);
                       s.weight.resize(kMergeRows * row_bytes);
                       for (auto row = static_cast<int64_t>(begin / row_bytes);
                            row < static_cast<int64_t>(end / row_bytes); row += kMergeRows) {
                           const int64_t count =
                               std::min<int64_t>(kMergeRows, static_cast<int64_t>(end / row_bytes) - row);
                           const uint64_t elements = static_cast<uint64_t>(count * in);
                           const uint64_t bytes = static_cast<uint64_t>(count) * row_bytes;
                           lora_delta_one_core(af, bf + row * r, s.delta.data(), count, in, r, n.scale);
                           convert_floats(DType::F32, n.dtype, s.delta.data(), s.rounded.data(), elements);
                           weights[worker].read(static_cast<uint64_t>(row) * row_bytes, bytes, s.weight.data());
                           add_floats(n.dtype, s.rounded.data(), s.weight.data(),
                                      merged + (static_cast<uint64_t>(row) * row_bytes - begin), elements);
                       }
                   });
    return true;
}

std::string PlanExecutor::as_f32(int64_t expr) const {
    const DType stored = plan_.nodes.at(static_cast<size_t>(expr)).dtype;
    const auto moved = is_convertible_float(stored) ? byte_runs(index_, plan_, expr) : std::nullopt;
    if (!moved) return evaluated(expr, DType::F32);
    uint64_t bytes = 0;
    for (const ByteRun& r : *moved) bytes += r.length;
    const uint64_t count = bytes / element_size(stored);
    std::string values(static_cast<size_t>(bytes), '\0'), widened(static_cast<size_t>(count * 4), '\0');
    RunSpans(*moved).read(0, bytes, values.data());
    if (stored == DType::F32) return values;
    convert_floats(stored, DType::F32, values.data(), widened.data(), count);
    return widened;
}

std::string PlanExecutor::evaluated(int64_t expr, DType as) const {
    std::string result;
    tensor_engine().evaluate(
        index_, plan_, expr, as,
        [](void* r, const void* data, uint64_t size) {
            static_cast<std::string*>(r)->append(static_cast<const char*>(data), size);
        },
        &result);
    return result;
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
    if (const auto cast = cast_runs(o)) {
        write_converted(cast->runs, cast->from, dtype(o), out);
        return;
    }
    if (!write_lora_merge(o, out))
        tensor_engine().evaluate(
            index_, plan_, expr, dtype(o),
            [](void* w, const void* data, uint64_t size) { static_cast<FileWriter*>(w)->write(data, size); }, &out);
    // Sources read through the mapping (all of them here, a merge's LoRA matrices): drop their pages from the
    // resident set (they stay in the page cache for the next output that reads them), so peak RSS stays
    // about one output.
    for (uint64_t s : sources_of(plan_, expr)) {
        const TensorInfo& src = *index_.tensors.at(s).info;
        for (const StoragePiece& p : src.storage->pieces) index_.files.at(p.file)->release(p.offset, p.nbytes);
        if (!is_gathered(src))
            index_.files.at(src.storage->file)->release(src.storage->data_offset, src.storage->nbytes);
    }
}

std::string PlanExecutor::bytes(size_t output) const {
    const size_t o = data_output(output);
    return evaluated(plan_.outputs.at(o).expr, dtype(o));
}

} // namespace ckptconv::core
