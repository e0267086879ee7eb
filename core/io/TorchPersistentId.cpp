#include "core/io/TorchPersistentId.hpp"

#include "core/util/Error.hpp"

namespace ckptconv::core {

TorchPersistentId parse_torch_persistent_id(const PyObject& pid, const std::string& file) {
    if (pid.kind != PyKind::Tuple || pid.items.size() < 5 || pid.items[0]->kind != PyKind::Str)
        throw bad_input(file, "persistent id is not a ('storage', ...) tuple");
    if (pid.items[0]->text != "storage")
        throw bad_input(file, "persistent id of kind '" + pid.items[0]->text + "' is not supported (only storages)");
    const PyObject& cls = *pid.items[1];
    const PyObject& key = *pid.items[2];
    const PyObject& location = *pid.items[3];
    const PyObject& numel = *pid.items[4];
    if (cls.kind != PyKind::Global || key.kind != PyKind::Str || numel.kind != PyKind::Int || numel.integer < 0)
        throw bad_input(file, "malformed storage persistent id");

    TorchPersistentId out;
    auto s = std::make_shared<StorageInfo>();
    s->key = key.text;
    (void)location; // "cpu", "cuda:0"...: data is always stored as CPU bytes
    s->numel = static_cast<uint64_t>(numel.integer);
    if (cls.text.rfind("torch", 0) != 0)
        throw bad_input(file, "storage class " + cls.text + "." + cls.name + " is not a torch storage");
    if (cls.name == "UntypedStorage") {
        s->dtype = DType::U8; // numel counts bytes; the tensor names its dtype (_rebuild_tensor_v3)
    } else if (auto dt = dtype_from_storage_class(cls.name)) {
        s->dtype = *dt;
    } else {
        throw bad_input(file, "storage class torch." + cls.name + " is not supported (storage '" + key.text + "')");
    }
    out.storage = std::move(s);
    if (pid.items.size() >= 6 && pid.items[5]->kind == PyKind::Tuple) {
        const auto& view = pid.items[5]->items;
        if (view.size() >= 2 && view[0]->kind == PyKind::Str && view[1]->kind == PyKind::Int) {
            out.has_view = true;
            out.view_key = view[0]->text;
            out.view_offset = view[1]->integer;
        }
    }
    return out;
}

} // namespace ckptconv::core
