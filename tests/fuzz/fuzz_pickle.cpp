// libFuzzer target: the pickle VM alone, with storages faked, then the index walk over its tree.
#include "core/index/CheckpointIndex.hpp"
#include "core/io/PickleReader.hpp"
#include "core/io/PickleWriter.hpp"
#include "core/util/Error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ckptconv::core;
    PickleReader reader("fuzz", "data.pkl", [](const PyObject&) {
        auto node = PyObject::make(PyKind::Storage);
        node->storage = std::make_shared<StorageInfo>();
        node->storage->dtype = DType::F32;
        node->storage->nbytes = 1 << 20;
        return node;
    });
    try {
        CheckpointIndex index;
        index.path = "fuzz";
        index.tree = reader.read(std::string_view(reinterpret_cast<const char*>(data), size));
        build_index_from_tree(index);
        PickleWriter().write(*index.tree); // whatever we read, we can write again
    } catch (const Error& e) {
        if (e.code() != ExitCode::BadInput) std::abort();
    }
    return 0;
}
