#include "core/io/TensorBytes.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/FloatRounding.hpp"
#include "core/io/RunSpans.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ckptconv::core {

bool is_row_major(const TensorInfo& info) {
    int64_t expected = 1;
    for (size_t i = info.shape.size(); i-- > 0;) {
        if (info.shape[i] == 1) continue; // any stride is fine for a size-1 dimension
        if (info.shape[i] == 0) return true;
        if (info.stride[i] != expected) return false;
        expected *= info.shape[i];
    }
    return true;
}

uint64_t tensor_file_offset(const TensorInfo& info) {
    return info.storage->data_offset + static_cast<uint64_t>(info.storage_offset) * element_size(info.dtype);
}

bool is_gathered(const TensorInfo& info) { return !info.storage->pieces.empty(); }

void read_gathered(const CheckpointIndex& index, const StorageInfo& s, void* out) {
    auto* dst = static_cast<char*>(out);
    for (const StoragePiece& p : s.pieces) {
        const std::string_view src = index.files.at(p.file)->slice(p.offset, p.nbytes, "gathered tensor data");
        const uint64_t count = p.nbytes / element_size(s.pieces_dtype);
        convert_floats(s.pieces_dtype, s.dtype, src.data(), dst, count);
        dst += count * element_size(s.dtype);
    }
}

void write_gathered(const CheckpointIndex& index, const StorageInfo& s, FileWriter& out) {
    if (s.pieces_dtype == s.dtype) {
        for (const StoragePiece& p : s.pieces) out.copy_from(*index.files.at(p.file), p.offset, p.nbytes);
        return;
    }
    std::vector<ByteRun> runs;
    for (const StoragePiece& p : s.pieces) runs.push_back({index.files.at(p.file).get(), nullptr, p.offset, p.nbytes});
    write_converted(runs, s.pieces_dtype, s.dtype, out);
}

std::string_view tensor_bytes(const CheckpointIndex& index, const TensorInfo& info, std::string& scratch) {
    if (is_gathered(info)) {
        uint64_t numel = 1;
        for (int64_t d : info.shape) numel *= static_cast<uint64_t>(d);
        scratch.resize(static_cast<size_t>(numel * element_size(info.dtype)));
        read_gathered(index, *info.storage, scratch.data());
        return scratch;
    }
    const MappedFile& file = *index.files.at(info.storage->file);
    const uint32_t esize = element_size(info.dtype);
    uint64_t numel = 1;
    for (int64_t d : info.shape) numel *= static_cast<uint64_t>(d);
    if (numel == 0) return {};
    if (is_row_major(info)) return file.slice(tensor_file_offset(info), numel * esize, "tensor data");

    // Strided gather: walk the index space with an odometer, copying one element at a time
    // along the innermost dimension. The index builder has already bounds-checked the extent.
    scratch.resize(static_cast<size_t>(numel * esize));
    const char* base = reinterpret_cast<const char*>(file.data()) + tensor_file_offset(info);
    const size_t rank = info.shape.size();
    std::vector<int64_t> pos(rank, 0);
    char* out = scratch.data();
    const int64_t inner = info.shape[rank - 1];
    const int64_t inner_stride = info.stride[rank - 1] * esize;
    for (uint64_t done = 0; done < numel; done += static_cast<uint64_t>(inner)) {
        int64_t offset = 0;
        for (size_t d = 0; d + 1 < rank; ++d) offset += pos[d] * info.stride[d];
        const char* src = base + offset * esize;
        for (int64_t i = 0; i < inner; ++i, out += esize, src += inner_stride) std::memcpy(out, src, esize);
        for (size_t d = rank - 1; d-- > 0;) {
            if (++pos[d] < info.shape[d]) break;
            pos[d] = 0;
        }
    }
    return scratch;
}

} // namespace ckptconv::core
