#include "core/io/ModelParallel.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::core {

bool glob_matches(std::string_view glob, std::string_view text) {
    // Greedy with one backtrack point, the last `*`: linear in practice, never recursive.
    size_t g = 0, t = 0, star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (g < glob.size() && glob[g] == '*') {
            star = g++;
            resume = t;
        } else if (g < glob.size() && glob[g] == text[t]) {
            ++g;
            ++t;
        } else if (star != std::string_view::npos) {
            g = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (g < glob.size() && glob[g] == '*') ++g;
    return g == glob.size();
}

const PartitionRule* partition_of(const std::vector<PartitionRule>& rules, std::string_view key) {
    for (const PartitionRule& r : rules)
        if (glob_matches(r.key_glob, key)) return &r;
    return nullptr;
}

Dims merged_shape(PartitionKind kind, uint32_t stride, const Dims& shape, uint32_t ranks, const std::string& file,
                  const std::string& key) {
    if (kind == PartitionKind::Replicated || kind == PartitionKind::Refuse) return shape;
    if (shape.empty() || (kind == PartitionKind::Row && shape.size() < 2))
        throw bad_input(file, "'" + key + "' has shape of " + std::to_string(shape.size()) +
                                  " dims, too few to be split over model-parallel ranks");
    const size_t dim = kind == PartitionKind::Row ? shape.size() - 1 : 0;
    if (kind == PartitionKind::Column && (stride == 0 || shape[0] % stride != 0))
        throw bad_input(file, "'" + key + "' has " + std::to_string(shape[0]) +
                                  " rows per rank, which do not split into " + std::to_string(stride) +
                                  " equal blocks (a fused Q/K/V has three)");
    const Checked math(file, "'" + key + "' merged size");
    Dims merged = shape;
    const uint64_t size = math.mul(static_cast<uint64_t>(shape[dim]), ranks);
    if (size > static_cast<uint64_t>(INT64_MAX)) throw bad_input(file, "'" + key + "' merged size overflows");
    merged[dim] = static_cast<int64_t>(size);
    return merged;
}

namespace {
void append(std::vector<StoragePiece>& pieces, uint32_t file, uint64_t offset, uint64_t nbytes) {
    if (nbytes == 0) return;
    if (!pieces.empty() && pieces.back().file == file && pieces.back().offset + pieces.back().nbytes == offset) {
        pieces.back().nbytes += nbytes;
        return;
    }
    pieces.push_back({file, offset, nbytes});
}
} // namespace

std::vector<StoragePiece> merged_pieces(PartitionKind kind, uint32_t stride, const Dims& shape, uint32_t element_size,
                                        const std::vector<RankCopy>& ranks) {
    // Sizes were checked by merged_shape and against each rank file when its tensors were indexed.
    uint64_t numel = 1;
    for (int64_t d : shape) numel *= static_cast<uint64_t>(d);
    const uint64_t bytes = numel * element_size;
    std::vector<StoragePiece> pieces;
    switch (kind) {
    case PartitionKind::Replicated:
    case PartitionKind::Refuse: append(pieces, ranks.at(0).file, ranks.at(0).offset, bytes); break;
    case PartitionKind::Vocab:
        for (const RankCopy& r : ranks) append(pieces, r.file, r.offset, bytes);
        break;
    case PartitionKind::Column: {
        const uint64_t block = bytes / (stride == 0 ? 1 : stride);
        for (uint64_t j = 0; j < (stride == 0 ? 1 : stride); ++j)
            for (const RankCopy& r : ranks) append(pieces, r.file, r.offset + j * block, block);
        break;
    }
    case PartitionKind::Row: {
        const uint64_t row = static_cast<uint64_t>(shape[shape.size() - 1]) * element_size;
        const uint64_t rows = row == 0 ? 0 : bytes / row;
        pieces.reserve(static_cast<size_t>(rows * ranks.size()));
        for (uint64_t i = 0; i < rows; ++i)
            for (const RankCopy& r : ranks) append(pieces, r.file, r.offset + i * row, row);
        break;
    }
    }
    return pieces;
}

} // namespace ckptconv::core
