#include "core/io/TorchZipReader.hpp"

#include "core/io/PickleReader.hpp"
#include "core/io/TorchPersistentId.hpp"
#include "core/io/TorchZipWriter.hpp"
#include "core/io/ZipReader.hpp"
#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <nlohmann/json.hpp>

#include <unordered_map>

namespace ckptconv::core {
namespace {

constexpr uint64_t kMaxProvenanceBytes = 64u << 10;

// What made the file, as our writer records it: informational, so a record that is too large, compressed
// or not an object of strings is left unread rather than failing the whole input.
void read_provenance(const ZipReader& zip, const std::string& prefix, CheckpointIndex& index) {
    const ZipEntry* record = zip.find(prefix + kTorchZipProvenanceRecord);
    if (!record || record->method != 0 || record->size > kMaxProvenanceBytes) return;
    const nlohmann::json j = nlohmann::json::parse(zip.read(*record), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return;
    for (const auto& [key, value] : j.items())
        if (key.rfind("ckptconv.", 0) == 0 && value.is_string()) index.metadata[key] = value.get<std::string>();
}

} // namespace

CheckpointIndex read_torch_zip(const std::string& path, const ReadOptions& options) {
    CheckpointIndex index;
    index.path = path;
    index.container = "torch-zip";
    index.files.push_back(std::make_unique<MappedFile>(path));
    const MappedFile& file = *index.files.front();
    const ZipReader zip(file);

    // The top-level folder varies ("archive", the file stem...): take it from data.pkl.
    const ZipEntry* pickle = nullptr;
    for (const auto& e : zip.entries()) {
        const size_t slash = e.name.find('/');
        if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
            pickle = &e;
            break;
        }
    }
    if (!pickle) {
        throw bad_input(path, "zip archive without <folder>/data.pkl: not a torch.save checkpoint");
    }
    const std::string prefix = pickle->name.substr(0, pickle->name.find('/') + 1);
    if (zip.find(prefix + "constants.pkl"))
        throw bad_input(path, "TorchScript archive (torch.jit.save), not a torch.save checkpoint");
    if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
        if (zip.read(*order) != "little") throw bad_input(path, "big-endian checkpoints are not supported");
    }

    std::unordered_map<std::string, std::shared_ptr<StorageInfo>> storages;
    auto loader = [&](const PyObject& pid) {
        TorchPersistentId id = parse_torch_persistent_id(pid, path);
        auto found = storages.find(id.storage->key);
        std::shared_ptr<StorageInfo> s;
        if (found != storages.end()) {
            s = found->second;
        } else {
            s = id.storage;
            const std::string record = prefix + "data/" + s->key;
            const ZipEntry* entry = zip.find(record);
            if (!entry) throw bad_input(path, "storage record '" + record + "' is missing");
            if (entry->method != 0) throw bad_input(path, "storage record '" + record + "' is compressed");
            s->data_offset = entry->data_offset;
            s->nbytes = entry->size;
            const uint64_t declared =
                Checked(path, "storage '", s->key, "' size").mul(s->numel, element_size(s->dtype));
            if (s->nbytes < declared)
                throw bad_input(path, "storage record '" + record + "' holds " + std::to_string(s->nbytes) +
                                          " bytes but its tensors declare " + std::to_string(declared));
            storages.emplace(s->key, s);
        }
        auto node = PyObject::make(PyKind::Storage);
        node->storage = std::move(s);
        return node;
    };
    PickleReader reader(path, pickle->name, loader, options.drop_unsafe);
    const std::string bytes = zip.read(*pickle);
    index.tree = reader.read(bytes);
    index.unsafe_dropped = reader.dropped();
    build_index_from_tree(index);
    read_provenance(zip, prefix, index);
    return index;
}

} // namespace ckptconv::core
