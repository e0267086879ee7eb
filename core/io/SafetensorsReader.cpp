#include "core/io/SafetensorsReader.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"
#include "core/util/JsonReader.hpp"
#include "core/util/NameTable.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <vector>

namespace ckptconv::core {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000; // the reference implementation's limit

uint64_t header_length(std::string_view data) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(data[i])) << (8 * i);
    return n;
}

// Reads the header JSON straight into the index, one tensor entry at a time:
// linear in the header's size, with nothing kept per tensor but the index
// entry itself (a DOM of a 1M-tensor header costs gigabytes).
class HeaderParser {
  public:
    HeaderParser(CheckpointIndex& index, const MappedFile& file, uint64_t header_size)
        : index_(index), file_(file), json_(file.slice(8, header_size, "safetensors header")),
          buffer_start_(8 + header_size), buffer_size_(file.size() - buffer_start_), names_(header_size / 64) {
        // An entry takes at least ~48 header bytes: reserved address space that no entry
        // touches costs no memory, and the vectors never move a million entries.
        index_.tensors.reserve(header_size / 48);
        index_.storages.reserve(header_size / 48);
    }

    void parse() {
        try {
            if (json_.peek() != JsonReader::Kind::Object) json_.fail("not a JSON object");
            json_.begin_object();
            std::string_view key;
            while (json_.next_member(key)) {
                if (key == "__metadata__")
                    metadata();
                else
                    tensor(std::string(key));
                release_parsed();
            }
            json_.finish();
        } catch (const JsonSyntaxError& e) {
            throw bad_input(index_.path, "safetensors header" + (where_.empty() ? "" : ", tensor '" + where_ + "'") +
                                             ": " + e.what());
        }
    }

  private:
    [[noreturn]] void unexpected(JsonReader::Kind kind, const std::string& field) {
        json_.fail(std::string("unexpected ") + JsonReader::kind_name(kind) + " in " + field);
    }

    void metadata() {
        if (seen_metadata_) json_.fail("__metadata__ appears twice");
        seen_metadata_ = true;
        where_.clear();
        if (json_.peek() != JsonReader::Kind::Object) json_.fail("__metadata__ is not an object");
        json_.begin_object();
        std::string_view key;
        while (json_.next_member(key)) {
            std::string name(key);
            if (json_.peek() != JsonReader::Kind::String)
                json_.fail("__metadata__ value of '" + name + "' is not a string");
            index_.metadata[std::move(name)] = std::string(json_.string());
        }
    }

    void tensor(std::string name) {
        where_ = name;
        if (index_.tensors.size() >= UINT32_MAX - 1) json_.fail("too many tensors");
        const auto id = static_cast<uint32_t>(index_.tensors.size());
        auto info = std::make_shared<TensorInfo>();
        bool has_dtype = false, has_shape = false, has_offsets = false;
        uint64_t offsets[2] = {0, 0};
        if (json_.peek() != JsonReader::Kind::Object) json_.fail("a tensor entry must be an object");
        json_.begin_object();
        std::string_view field;
        while (json_.next_member(field)) {
            const JsonReader::Kind kind = json_.peek();
            if (field == "dtype") {
                if (kind != JsonReader::Kind::String || has_dtype) unexpected(kind, "dtype");
                const std::string_view text = json_.string();
                const auto dtype = dtype_from_safetensors(text);
                if (!dtype) json_.fail("unsupported dtype " + std::string(text));
                info->dtype = *dtype;
                has_dtype = true;
            } else if (field == "shape") {
                if (kind != JsonReader::Kind::Array || has_shape) unexpected(kind, "shape");
                json_.begin_array();
                while (json_.next_element()) {
                    if (json_.peek() != JsonReader::Kind::Number) unexpected(json_.peek(), "shape");
                    const uint64_t v = json_.unsigned_integer();
                    if (v > static_cast<uint64_t>(INT64_MAX))
                        json_.fail("shape entry " + std::to_string(v) + " is too large");
                    info->shape.push_back(static_cast<int64_t>(v));
                }
                has_shape = true;
            } else if (field == "data_offsets") {
                if (kind != JsonReader::Kind::Array || has_offsets) unexpected(kind, "data_offsets");
                json_.begin_array();
                size_t count = 0;
                while (json_.next_element()) {
                    if (json_.peek() != JsonReader::Kind::Number) unexpected(json_.peek(), "data_offsets");
                    const uint64_t v = json_.unsigned_integer();
                    if (count < 2) offsets[count] = v;
                    ++count;
                }
                if (count != 2) json_.fail("data_offsets must hold two numbers");
                has_offsets = true;
            } else if (kind == JsonReader::Kind::Object || kind == JsonReader::Kind::Array) {
                unexpected(kind, "field '" + std::string(field) + "'");
            } else {
                json_.skip_value(); // unknown scalar fields are ignored, as upstream
            }
        }
        auto fail = [&](const std::string& what) { return bad_input(index_.path, "tensor '" + name + "': " + what); };
        if (!has_dtype || !has_shape || !has_offsets)
            throw fail("needs dtype, shape and data_offsets (two unsigned integers)");
        if (names_.insert(name, id, [&](uint32_t i) -> std::string_view { return index_.tensors[i].key; }) != id)
            throw bad_input(index_.path, "tensor '" + name + "' appears twice");

        const Checked math(index_.path, "tensor '", name, "' size");
        uint64_t numel = 1;
        for (const int64_t v : info->shape) numel = math.mul(numel, static_cast<uint64_t>(v));
        const uint64_t nbytes = math.mul(numel, element_size(info->dtype));
        info->stride = contiguous_strides(info->shape); // each <= numel: fits
        const auto [begin, end] = offsets;
        if (end < begin || end > buffer_size_)
            throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the " +
                       std::to_string(buffer_size_) + "-byte buffer");
        if (end - begin != nbytes)
            throw fail("data_offsets cover " + std::to_string(end - begin) + " bytes but dtype and shape need " +
                       std::to_string(nbytes));
        auto storage = std::make_shared<StorageInfo>();
        storage->dtype = info->dtype;
        storage->numel = numel;
        storage->data_offset = buffer_start_ + begin;
        storage->nbytes = nbytes;
        info->storage = std::move(storage);
        add_flat_tensor(index_, std::move(name), std::move(info));
    }

    // The parsed part of the header leaves the resident set as the parse goes (the names were copied out).
    void release_parsed() {
        const uint64_t parsed = 8 + json_.offset();
        if (parsed - released_ < (8u << 20)) return;
        file_.release(released_, parsed - released_);
        released_ = parsed;
    }

    CheckpointIndex& index_;
    const MappedFile& file_;
    JsonReader json_;
    const uint64_t buffer_start_, buffer_size_;
    NameTable names_;
    std::string where_;
    bool seen_metadata_ = false;
    uint64_t released_ = 0;
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
    HeaderParser(index, file, n).parse();
    file.release(8, n);

    // The reference library orders tensors by data offset: so does the index (it is the
    // header order of every file a safetensors writer produced, so mostly nothing moves).
    auto by_offset = [](const IndexedTensor& a, const IndexedTensor& b) {
        const StorageInfo& x = *a.info->storage;
        const StorageInfo& y = *b.info->storage;
        if (x.data_offset != y.data_offset) return x.data_offset < y.data_offset;
        if (x.nbytes != y.nbytes) return x.nbytes < y.nbytes;
        return a.key < b.key;
    };
    if (!std::is_sorted(index.tensors.begin(), index.tensors.end(), by_offset)) {
        std::sort(index.tensors.begin(), index.tensors.end(), by_offset);
        for (size_t i = 0; i < index.tensors.size(); ++i) {
            index.storages[i] = index.tensors[i].info->storage;
            index.tensors[i].storage_group = i;
        }
    }
    const uint64_t buffer_start = 8 + n;
    const uint64_t buffer_size = file.size() - buffer_start;
    uint64_t covered = 0;
    for (const IndexedTensor& t : index.tensors) {
        const uint64_t begin = t.info->storage->data_offset - buffer_start;
        if (begin != covered)
            throw bad_input(path, "tensor '" + t.key + "': data_offsets " +
                                      (begin < covered ? "overlap the previous tensor" : "leave a hole before it"));
        covered = begin + t.info->storage->nbytes;
    }
    if (covered != buffer_size)
        throw bad_input(path, "safetensors buffer has " + std::to_string(buffer_size - covered) +
                                  " bytes not covered by any tensor");
    finish_flat_index(index);
    return index;
}

} // namespace ckptconv::core
