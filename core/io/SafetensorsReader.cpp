#include "core/io/SafetensorsReader.hpp"

#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace ckptconv::core {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000; // the reference implementation's limit

uint64_t header_length(std::string_view data) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(data[i])) << (8 * i);
    return n;
}

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
    nlohmann::ordered_json header;
    try {
        header = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw bad_input(path, std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) throw bad_input(path, "safetensors header is not a JSON object");

    const uint64_t buffer_start = 8 + n;
    const uint64_t buffer_size = file.size() - buffer_start;
    auto tree = PyObject::make(PyKind::Dict);
    struct Span {
        uint64_t begin, end;
        std::string name;
    };
    std::vector<Span> spans;
    for (const auto& item : header.items()) {
        const std::string& name = item.key();
        const auto& entry = item.value();
        if (name == "__metadata__") {
            if (!entry.is_object()) throw bad_input(path, "__metadata__ is not an object");
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string()) throw bad_input(path, "__metadata__ value of '" + k + "' is not a string");
                index.metadata[k] = v.get<std::string>();
            }
            continue;
        }
        auto fail = [&](const std::string& what) { return bad_input(path, "tensor '" + name + "': " + what); };
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets"))
            throw fail("needs dtype, shape and data_offsets");
        const auto& dt = entry["dtype"];
        const auto& shape = entry["shape"];
        const auto& offsets = entry["data_offsets"];
        if (!dt.is_string()) throw fail("dtype is not a string");
        const auto dtype = dtype_from_safetensors(dt.get<std::string>());
        if (!dtype) throw fail("unsupported dtype " + dt.get<std::string>());
        if (!shape.is_array() || !offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
            !offsets[1].is_number_unsigned())
            throw fail("shape must be an array and data_offsets two unsigned integers");
        auto info = std::make_shared<TensorInfo>();
        info->dtype = *dtype;
        uint64_t numel = 1;
        for (const auto& d : shape) {
            if (!d.is_number_unsigned()) throw fail("shape entries must be non-negative integers");
            const uint64_t v = d.get<uint64_t>();
            if (v != 0 && numel > (uint64_t{1} << 62) / v) throw fail("shape overflows");
            numel *= v;
            info->shape.push_back(static_cast<int64_t>(v));
        }
        info->stride.assign(info->shape.size(), 1);
        for (size_t i = info->shape.size(); i-- > 1;)
            info->stride[i - 1] = info->stride[i] * std::max<int64_t>(info->shape[i], 1);
        const uint64_t begin = offsets[0].get<uint64_t>();
        const uint64_t end = offsets[1].get<uint64_t>();
        if (end < begin || end > buffer_size)
            throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the " +
                       std::to_string(buffer_size) + "-byte buffer");
        if (end - begin != numel * element_size(*dtype))
            throw fail("data_offsets cover " + std::to_string(end - begin) + " bytes but dtype and shape need " +
                       std::to_string(numel * element_size(*dtype)));
        auto storage = std::make_shared<StorageInfo>();
        storage->key = name;
        storage->dtype = *dtype;
        storage->numel = numel;
        storage->data_offset = buffer_start + begin;
        storage->nbytes = end - begin;
        info->storage = std::move(storage);
        auto node = PyObject::make(PyKind::Tensor);
        node->tensor = std::move(info);
        tree->dict_set(PyObject::make_str(name), std::move(node));
        spans.push_back({begin, end, name});
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    uint64_t covered = 0;
    for (const auto& s : spans) {
        if (s.begin != covered)
            throw bad_input(path, "tensor '" + s.name + "': data_offsets " +
                                      (s.begin < covered ? "overlap the previous tensor" : "leave a hole before it"));
        covered = s.end;
    }
    if (covered != buffer_size)
        throw bad_input(path, "safetensors buffer has " + std::to_string(buffer_size - covered) +
                                  " bytes not covered by any tensor");
    index.tree = std::move(tree);
    build_index_from_tree(index);
    return index;
}

} // namespace ckptconv::core
