#include "core/io/SafetensorsReader.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ckptconv::core {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000; // the reference implementation's limit

uint64_t header_length(std::string_view data) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(data[i])) << (8 * i);
    return n;
}

// One tensor entry of the header, as declared.
struct HeaderEntry {
    std::string name;
    DType dtype = DType::Invalid;
    uint64_t offsets[2] = {0, 0};
    uint32_t offset_count = 0;
    uint32_t shape_start = 0, shape_count = 0; ///< into HeaderSax::dims: no allocation per tensor
    bool has_dtype = false, has_shape = false;
};

// Streams the header JSON into HeaderEntry records: linear time and memory in the
// header's size (a DOM of a 1M-tensor header, or an ordered map's linear key
// lookups, cost gigabytes or minutes).
class HeaderSax {
  public:
    std::deque<HeaderEntry> entries; ///< a deque: names stay put, so `names_` can view them
    std::vector<uint64_t> dims;      ///< every shape, back to back
    std::map<std::string, std::string> metadata;
    std::string error;

    void expect(size_t tensors) { names_.reserve(tensors); }
    /** The duplicate check is done once parsing ends: its memory goes before the index is built. */
    void forget_names() { std::unordered_set<std::string_view>().swap(names_); }
    bool null() { return scalar("null"); }
    bool boolean(bool) { return scalar("a boolean"); }
    bool number_integer(int64_t v) {
        if (v < 0) return fail("negative number in '" + where() + "'");
        return number(static_cast<uint64_t>(v));
    }
    bool number_unsigned(uint64_t v) { return number(v); }
    bool number_float(double, const std::string&) { return scalar("a fractional number"); }
    bool binary(nlohmann::json::binary_t&) { return fail("binary value"); }
    bool string(std::string& v) {
        if (depth_ == 2 && in_metadata_) {
            metadata[key_] = v;
            return true;
        }
        if (depth_ == 2 && field_ == Field::Dtype) {
            const auto dtype = dtype_from_safetensors(v);
            if (!dtype) return fail("tensor '" + where() + "': unsupported dtype " + v);
            entries.back().dtype = *dtype;
            entries.back().has_dtype = true;
            return true;
        }
        return scalar("a string");
    }
    bool start_object(std::size_t) {
        if (depth_ == 1 && key_ == "__metadata__") {
            if (seen_metadata_) return fail("__metadata__ appears twice");
            seen_metadata_ = in_metadata_ = true;
        } else if (depth_ == 1) {
            entries.push_back(HeaderEntry{std::move(key_), DType::Invalid, {0, 0}, 0, 0, 0, false, false});
            if (!names_.insert(entries.back().name).second)
                return fail("tensor '" + entries.back().name + "' appears twice");
        } else if (depth_ != 0) {
            return fail("unexpected object in '" + where() + "'");
        }
        ++depth_;
        return true;
    }
    bool end_object() {
        if (--depth_ == 1) in_metadata_ = false;
        return true;
    }
    bool start_array(std::size_t) {
        if (depth_ != 2 || in_metadata_ || (field_ != Field::Shape && field_ != Field::Offsets))
            return fail("unexpected array in '" + where() + "'");
        if (field_ == Field::Shape) {
            if (entries.back().has_shape) return fail("shape appears twice in '" + where() + "'");
            entries.back().has_shape = true;
            entries.back().shape_start = static_cast<uint32_t>(dims.size());
        }
        ++depth_;
        return true;
    }
    bool end_array() {
        --depth_;
        return true;
    }
    bool key(std::string& k) {
        if (depth_ == 1 || in_metadata_) {
            key_ = std::move(k);
        } else {
            field_ = k == "dtype"          ? Field::Dtype
                     : k == "shape"        ? Field::Shape
                     : k == "data_offsets" ? Field::Offsets
                                           : Field::Other;
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) { return fail(e.what()); }

  private:
    enum class Field { Other, Dtype, Shape, Offsets };
    bool fail(const std::string& what) {
        if (error.empty()) error = what;
        return false;
    }
    std::string where() const { return in_metadata_ ? "__metadata__" : entries.empty() ? "" : entries.back().name; }
    bool scalar(const char* what) {
        if (depth_ == 2 && in_metadata_) return fail("__metadata__ value of '" + key_ + "' is not a string");
        if (depth_ == 2 && field_ == Field::Other) return true; // unknown scalar fields are ignored, as upstream
        return fail(std::string(what) + " where none belongs, in '" + where() + "'");
    }
    bool number(uint64_t v) {
        if (depth_ != 3) return scalar("a number");
        auto& e = entries.back();
        if (field_ == Field::Shape) {
            if (dims.size() >= UINT32_MAX) return fail("too many dimensions");
            dims.push_back(v);
            ++e.shape_count;
        } else if (e.offset_count++ < 2) {
            e.offsets[e.offset_count - 1] = v;
        }
        return true;
    }
    int depth_ = 0;
    bool in_metadata_ = false, seen_metadata_ = false;
    Field field_ = Field::Other;
    std::string key_;
    std::unordered_set<std::string_view> names_;
};

} // namespace

bool looks_like_safetensors(std::string_view data) {
    // A header length past the end of the file still means safetensors: read_safetensors says what is wrong.
    if (data.size() < 9) return false;
    if (header_length(data) < 2) return false;
    const size_t first = data.find_first_not_of(" \t\r\n", 8);
    return first != std::string_view::npos && data[first] == '{';
}

CheckpointIndex read_safetensors(const std::string& path) {
    CheckpointIndex index;
    index.path = path;
    index.container = "safetensors";
    index.files.push_back(std::make_unique<MappedFile>(path));
    const MappedFile& file = *index.files.front();
    if (file.size() < 8) throw bad_input(path, "truncated safetensors: shorter than its 8-byte header length");
    const uint64_t n = header_length(file.slice(0, 8, "header length"));
    if (n > kMaxHeader) throw bad_input(path, "safetensors header length " + std::to_string(n) + " exceeds 100000000");
    if (n > file.size() - 8)
        throw bad_input(path, "safetensors header length " + std::to_string(n) + " is larger than the file (" +
                                  std::to_string(file.size()) + " bytes)");
    const std::string_view text = file.slice(8, n, "safetensors header");
    HeaderSax header;
    header.expect(n / 64); // a tensor entry takes at least ~64 header bytes: no rehashing on the way
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &header)) {
        if (header.error.empty()) header.error = "not a JSON object";
        throw bad_input(path, "safetensors header: " + header.error);
    }
    index.metadata = std::move(header.metadata);
    file.release(8, n); // parsed (the names were copied out): the header's pages leave the resident set

    const uint64_t buffer_start = 8 + n;
    const uint64_t buffer_size = file.size() - buffer_start;
    // The reference library orders tensors by data offset: so does the index (it is the
    // header order of every file a safetensors writer produced).
    std::vector<HeaderEntry*> sorted;
    sorted.reserve(header.entries.size());
    for (auto& e : header.entries) sorted.push_back(&e);
    header.forget_names();
    std::sort(sorted.begin(), sorted.end(), [](const HeaderEntry* a, const HeaderEntry* b) {
        if (a->offsets[0] != b->offsets[0]) return a->offsets[0] < b->offsets[0];
        if (a->offsets[1] != b->offsets[1]) return a->offsets[1] < b->offsets[1];
        return a->name < b->name;
    });
    index.tensors.reserve(sorted.size());
    index.storages.reserve(sorted.size());
    uint64_t covered = 0;
    for (HeaderEntry* at : sorted) {
        HeaderEntry& entry = *at;
        const std::string& name = entry.name;
        auto fail = [&](const std::string& what) { return bad_input(path, "tensor '" + entry.name + "': " + what); };
        if (!entry.has_dtype || !entry.has_shape || entry.offset_count != 2)
            throw fail("needs dtype, shape and data_offsets (two unsigned integers)");
        const DType dtype = entry.dtype;
        const Checked math(path, "tensor '" + name + "' size");
        auto info = std::make_shared<TensorInfo>();
        info->dtype = dtype;
        uint64_t numel = 1;
        info->shape.reserve(entry.shape_count);
        for (uint32_t d = 0; d < entry.shape_count; ++d) {
            const uint64_t v = header.dims[entry.shape_start + d];
            if (v > static_cast<uint64_t>(INT64_MAX)) throw fail("shape entry " + std::to_string(v) + " is too large");
            numel = math.mul(numel, v);
            info->shape.push_back(static_cast<int64_t>(v));
        }
        const uint64_t nbytes = math.mul(numel, element_size(dtype));
        info->stride.assign(info->shape.size(), 1);
        for (size_t i = info->shape.size(); i-- > 1;)
            info->stride[i - 1] = info->stride[i] * std::max<int64_t>(info->shape[i], 1); // <= numel: fits
        const uint64_t begin = entry.offsets[0];
        const uint64_t end = entry.offsets[1];
        if (end < begin || end > buffer_size)
            throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the " +
                       std::to_string(buffer_size) + "-byte buffer");
        if (end - begin != nbytes)
            throw fail("data_offsets cover " + std::to_string(end - begin) + " bytes but dtype and shape need " +
                       std::to_string(nbytes));
        if (begin != covered)
            throw fail(std::string("data_offsets ") +
                       (begin < covered ? "overlap the previous tensor" : "leave a hole before it"));
        covered = end;
        auto storage = std::make_shared<StorageInfo>();
        storage->dtype = dtype;
        storage->numel = numel;
        storage->data_offset = buffer_start + begin;
        storage->nbytes = nbytes;
        info->storage = std::move(storage);
        add_flat_tensor(index, std::move(entry.name), std::move(info));
    }
    if (covered != buffer_size)
        throw bad_input(path, "safetensors buffer has " + std::to_string(buffer_size - covered) +
                                  " bytes not covered by any tensor");
    finish_flat_index(index);
    return index;
}

} // namespace ckptconv::core
