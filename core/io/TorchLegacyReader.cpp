#include "core/io/TorchLegacyReader.hpp"

#include "core/io/PickleReader.hpp"
#include "core/io/TorchPersistentId.hpp"
#include "core/util/Error.hpp"

#include <cstring>
#include <unordered_map>

namespace ckptconv::core {
namespace {

// 0x1950a86a20f9469cfc6c as pickle LONG1 payload (little endian, 10 bytes).
constexpr unsigned char kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

uint64_t read_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
}

} // namespace

bool looks_like_torch_legacy(std::string_view data) {
    // PROTO n, LONG1 10 <magic>: what pickle.dump(MAGIC_NUMBER, protocol>=2) writes.
    return data.size() >= 14 && static_cast<uint8_t>(data[0]) == 0x80 && static_cast<uint8_t>(data[2]) == 0x8a &&
           static_cast<uint8_t>(data[3]) == 10 && std::memcmp(data.data() + 4, kMagic, sizeof kMagic) == 0;
}

CheckpointIndex read_torch_legacy(const std::string& path, const ReadOptions& options) {
    CheckpointIndex index;
    index.path = path;
    index.container = "torch-legacy";
    index.files.push_back(std::make_unique<MappedFile>(path));
    const MappedFile& file = *index.files.front();
    std::string_view rest(reinterpret_cast<const char*>(file.data()), static_cast<size_t>(file.size()));
    if (!looks_like_torch_legacy(rest)) throw bad_input(path, "not a legacy torch checkpoint (magic number missing)");

    TreeGuard headers; // the small pickles around the object one; released however this ends
    auto next_pickle = [&](PickleReader& reader) {
        size_t used = 0;
        PyRef v = reader.read(rest, &used);
        rest.remove_prefix(used);
        return v;
    };
    PickleReader plain(path, "header", nullptr); // headers hold no globals worth keeping: refused as usual
    headers.hold(next_pickle(plain));
    const PyRef protocol = headers.hold(next_pickle(plain));
    if (protocol->kind != PyKind::Int || protocol->integer != 1001)
        throw bad_input(path, "legacy protocol version is not 1001");
    const PyRef sys_info = headers.hold(next_pickle(plain));
    for (const auto& [k, v] : sys_info->entries)
        if (k->kind == PyKind::Str && k->text == "little_endian" && v->kind == PyKind::Bool && !v->boolean)
            throw bad_input(path, "big-endian legacy checkpoints are not supported");

    std::unordered_map<std::string, std::shared_ptr<StorageInfo>> storages;
    auto loader = [&](const PyObject& pid) {
        TorchPersistentId id = parse_torch_persistent_id(pid, path);
        auto [it, inserted] = storages.emplace(id.storage->key, id.storage);
        if (!inserted && it->second->numel < id.storage->numel) it->second->numel = id.storage->numel;
        auto node = PyObject::make(PyKind::Storage);
        node->storage = it->second;
        node->integer = id.has_view ? id.view_offset : 0;
        return node;
    };
    PickleReader main_reader(path, "object pickle", loader, options.drop_unsafe);
    index.tree = next_pickle(main_reader);
    index.unsafe_dropped = main_reader.dropped();

    PickleReader keys_reader(path, "storage key list", nullptr);
    const PyRef keys = headers.hold(next_pickle(keys_reader));
    if (keys->kind != PyKind::List) throw bad_input(path, "legacy storage key list is not a list");

    // Storages follow in key-list order, each as <int64 numel><bytes>.
    uint64_t offset = file.size() - rest.size();
    for (const auto& k : keys->items) {
        if (k->kind != PyKind::Str) throw bad_input(path, "legacy storage key is not a string");
        auto it = storages.find(k->text);
        if (it == storages.end()) throw bad_input(path, "legacy storage '" + k->text + "' is not used by any tensor");
        StorageInfo& s = *it->second;
        const std::string_view header = file.slice(offset, 8, ("size header of storage " + k->text).c_str());
        const uint64_t numel = read_u64(reinterpret_cast<const uint8_t*>(header.data()));
        const uint32_t esize = element_size(s.dtype);
        if (numel > (file.size() - offset - 8) / esize)
            throw bad_input(path, "storage '" + k->text + "' declares " + std::to_string(numel) +
                                      " elements but the file ends before them");
        s.numel = numel;
        s.data_offset = offset + 8;
        s.nbytes = numel * esize; // cannot overflow: numel <= (bytes left) / esize above
        offset = s.data_offset + s.nbytes;
    }
    for (const auto& [key, s] : storages)
        if (s->data_offset == 0) throw bad_input(path, "storage '" + key + "' is missing from the storage key list");
    build_index_from_tree(index);
    return index;
}

} // namespace ckptconv::core
