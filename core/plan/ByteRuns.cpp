#include "core/plan/ByteRuns.hpp"

#include "core/io/TensorBytes.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

namespace ckptconv::core {
namespace {

/** Runs with their start positions, so any byte span of the concatenation can be cut out. */
class RunList {
  public:
    explicit RunList(size_t max_runs) : max_runs_(max_runs) {}

    bool append(ByteRun run) {
        if (run.length == 0) return true;
        if (!runs_.empty()) {
            ByteRun& last = runs_.back();
            const bool zeros = !run.file && !run.memory && !last.file && !last.memory;
            const bool adjacent =
                run.file == last.file && run.memory == last.memory && run.offset == last.offset + last.length;
            if (zeros || adjacent) {
                last.length += run.length;
                size_ += run.length;
                return true;
            }
        }
        if (runs_.size() == max_runs_) return false;
        starts_.push_back(size_);
        runs_.push_back(run);
        size_ += run.length;
        return true;
    }

    /** Appends bytes [begin, begin+length) of this list to `out`. */
    bool copy_span(uint64_t begin, uint64_t length, RunList& out) const {
        if (length == 0) return true;
        size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) - 1;
        while (length > 0) {
            const ByteRun& r = runs_.at(i);
            const uint64_t skip = begin - starts_[i];
            const uint64_t n = std::min(length, r.length - skip);
            ByteRun piece = r;
            piece.offset += skip;
            piece.length = n;
            if (!out.append(piece)) return false;
            begin += n;
            length -= n;
            ++i;
        }
        return true;
    }

    std::vector<ByteRun> take() { return std::move(runs_); }

  private:
    size_t max_runs_;
    std::vector<ByteRun> runs_;
    std::vector<uint64_t> starts_;
    uint64_t size_ = 0;
};

uint64_t product(const Shape& shape, size_t from, size_t to) {
    return std::accumulate(shape.begin() + static_cast<std::ptrdiff_t>(from),
                           shape.begin() + static_cast<std::ptrdiff_t>(to), uint64_t{1},
                           [](uint64_t a, int64_t b) { return a * static_cast<uint64_t>(b); });
}

class Lowering {
  public:
    Lowering(const CheckpointIndex& index, const Plan& plan, size_t max_runs)
        : index_(index), plan_(plan), max_runs_(max_runs) {}

    std::optional<RunList> lower(int64_t expr) const {
        const PlanNode& n = plan_.nodes.at(static_cast<size_t>(expr));
        RunList out(max_runs_);
        switch (n.kind) {
        case OpKind::Source: {
            const TensorInfo& t = *index_.tensors.at(n.source_tensor).info;
            if (is_gathered(t)) { // partitions gathered from several files: runs of them, unless they are rounded
                if (t.storage->pieces_dtype != t.dtype) return std::nullopt;
                for (const StoragePiece& p : t.storage->pieces)
                    if (!out.append({index_.files.at(p.file).get(), nullptr, p.offset, p.nbytes})) return std::nullopt;
                return out;
            }
            if (!is_row_major(t)) return std::nullopt;
            out.append({index_.files.at(t.storage->file).get(), nullptr, tensor_file_offset(t), bytes(n)});
            return out;
        }
        case OpKind::Reshape: return lower(n.inputs.at(0));
        case OpKind::Cast:
            if (n.dtype != node(n.inputs.at(0)).dtype) return std::nullopt;
            return lower(n.inputs.at(0));
        case OpKind::Permute: {
            std::vector<int64_t> identity(n.dims.size());
            std::iota(identity.begin(), identity.end(), 0);
            if (n.dims != identity) return std::nullopt;
            return lower(n.inputs.at(0));
        }
        case OpKind::Zeros: out.append({nullptr, nullptr, 0, bytes(n)}); return out;
        case OpKind::Constant: out.append({nullptr, n.bytes.data(), 0, n.bytes.size()}); return out;
        case OpKind::Chunk: {
            const int64_t size = node(n.inputs.at(0)).shape.at(static_cast<size_t>(n.dim)) / n.a;
            return rows(n, n.b * size, size, 0);
        }
        case OpKind::Narrow: return rows(n, n.a, n.b, 0);
        case OpKind::Pad: {
            const int64_t have = node(n.inputs.at(0)).shape.at(static_cast<size_t>(n.dim));
            return n.a <= have ? rows(n, 0, n.a, 0) : rows(n, 0, have, n.a - have);
        }
        case OpKind::Cat: return cat(n);
        case OpKind::AddLora: return std::nullopt; // arithmetic: the tensor engine computes it
        }
        return std::nullopt;
    }

  private:
    const PlanNode& node(int64_t expr) const { return plan_.nodes.at(static_cast<size_t>(expr)); }

    static uint64_t bytes(const PlanNode& n) { return product(n.shape, 0, n.shape.size()) * element_size(n.dtype); }

    /** Along n.dim of the input: `length` rows from `start`, then `zero_rows` rows of zeros. */
    std::optional<RunList> rows(const PlanNode& n, int64_t start, int64_t length, int64_t zero_rows) const {
        const PlanNode& x = node(n.inputs.at(0));
        auto in = lower(n.inputs.at(0));
        if (!in) return std::nullopt;
        const auto d = static_cast<size_t>(n.dim);
        const uint64_t outer = product(x.shape, 0, d);
        const uint64_t row = product(x.shape, d + 1, x.shape.size()) * element_size(x.dtype);
        const uint64_t span = static_cast<uint64_t>(x.shape[d]) * row;
        RunList out(max_runs_);
        for (uint64_t o = 0; o < outer; ++o) {
            if (!in->copy_span(o * span + static_cast<uint64_t>(start) * row, static_cast<uint64_t>(length) * row, out))
                return std::nullopt;
            if (zero_rows > 0 && !out.append({nullptr, nullptr, 0, static_cast<uint64_t>(zero_rows) * row}))
                return std::nullopt;
        }
        return out;
    }

    std::optional<RunList> cat(const PlanNode& n) const {
        std::vector<RunList> parts;
        std::vector<uint64_t> spans;
        for (int64_t input : n.inputs) {
            auto part = lower(input);
            if (!part) return std::nullopt;
            parts.push_back(std::move(*part));
            const PlanNode& x = node(input);
            spans.push_back(product(x.shape, static_cast<size_t>(n.dim), x.shape.size()) * element_size(x.dtype));
        }
        const uint64_t outer = product(n.shape, 0, static_cast<size_t>(n.dim));
        RunList out(max_runs_);
        for (uint64_t o = 0; o < outer; ++o)
            for (size_t i = 0; i < parts.size(); ++i)
                if (!parts[i].copy_span(o * spans[i], spans[i], out)) return std::nullopt;
        return out;
    }

    const CheckpointIndex& index_;
    const Plan& plan_;
    size_t max_runs_;
};

} // namespace

std::optional<std::vector<ByteRun>> byte_runs(const CheckpointIndex& index, const Plan& plan, int64_t expr,
                                              size_t max_runs) {
    auto runs = Lowering(index, plan, max_runs).lower(expr);
    if (!runs) return std::nullopt;
    return runs->take();
}

} // namespace ckptconv::core
