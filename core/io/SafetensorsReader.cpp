#include "core/io/SafetensorsReader.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
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
    std::string dtype;
    std::vector<uint64_t> shape;
    std::vector<uint64_t> offsets;
    bool has_dtype = false, has_shape = false;
};

// Streams the header JSON into HeaderEntry records: linear time and memory in the
// header's size (a DOM of a 1M-tensor header, or an ordered map's linear key
// lookups, cost gigabytes or minutes).
class HeaderSax {
  public:
    std::vector<HeaderEntry> entries;
    std::map<std::string, std::string> metadata;
    std::string error;

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
            entries.back().dtype = v;
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
            if (!names_.insert(key_).second) return fail("tensor '" + key_ + "' appears twice");
            entries.push_back(HeaderEntry{key_, {}, {}, {}});
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
        if (field_ == Field::Shape) entries.back().has_shape = true;
        ++depth_;
        return true;
    }
    bool end_array() {
        --depth_;
        return true;
    }
    bool key(std::string& k) {
        if (depth_ == 1) {
            key_ = k;
        } else if (in_metadata_) {
            key_ = k;
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
        (field_ == Field::Shape ? e.shape : e.offsets).push_back(v);
        return true;
    }
    int depth_ = 0;
    bool in_metadata_ = false, seen_metadata_ = false;
    Field field_ = Field::Other;
    std::string key_;
    std::unordered_set<std::string> names_;
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
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &header)) {
        if (header.error.empty()) header.error = "not a JSON object";
        throw bad_input(path, "safetensors header: " + header.error);
    }
    index.metadata = std::move(header.metadata);

    const uint64_t buffer_start = 8 + n;
    const uint64_t buffer_size = file.size() - buffer_start;
    // The reference library orders tensors by data offset: so does the index (it is the
    // header order of every file a safetensors writer produced).
    std::sort(header.entries.begin(), header.entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
        if (a.offsets != b.offsets) return a.offsets < b.offsets;
        return a.name < b.name;
    });
    auto tree = PyObject::make(PyKind::Dict);
    uint64_t covered = 0;
    for (auto& entry : header.entries) {
        const std::string& name = entry.name;
        auto fail = [&](const std::string& what) { return bad_input(path, "tensor '" + name + "': " + what); };
        if (!entry.has_dtype || !entry.has_shape || entry.offsets.size() != 2)
            throw fail("needs dtype, shape and data_offsets (two unsigned integers)");
        const auto dtype = dtype_from_safetensors(entry.dtype);
        if (!dtype) throw fail("unsupported dtype " + entry.dtype);
        const Checked math(path, "tensor '" + name + "' size");
        auto info = std::make_shared<TensorInfo>();
        info->dtype = *dtype;
        uint64_t numel = 1;
        for (const uint64_t v : entry.shape) {
            if (v > static_cast<uint64_t>(INT64_MAX)) throw fail("shape entry " + std::to_string(v) + " is too large");
            numel = math.mul(numel, v);
            info->shape.push_back(static_cast<int64_t>(v));
        }
        const uint64_t nbytes = math.mul(numel, element_size(*dtype));
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
        storage->key = name;
        storage->dtype = *dtype;
        storage->numel = numel;
        storage->data_offset = buffer_start + begin;
        storage->nbytes = nbytes;
        info->storage = std::move(storage);
        auto node = PyObject::make(PyKind::Tensor);
        node->tensor = std::move(info);
        tree->dict_set(PyObject::make_str(std::move(entry.name)), std::move(node));
    }
    if (covered != buffer_size)
        throw bad_input(path, "safetensors buffer has " + std::to_string(buffer_size - covered) +
                                  " bytes not covered by any tensor");
    header.entries.clear();
    index.tree = std::move(tree);
    build_index_from_tree(index);
    return index;
}

} // namespace ckptconv::core
