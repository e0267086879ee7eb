// libFuzzer target: the pickle VM alone, with storages faked, then the index walk over its tree,
// then the pt writer's path: sanitized to the output allow-list and pickled again (the writer
// refuses any other global with an Internal error, which is a finding).
#include "core/index/CheckpointIndex.hpp"
#include "core/io/PickleAllowList.hpp"
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
        PickleWriter().write(*sanitize_for_output(index.tree).tree); // whatever we read, we can write safely
    } catch (const Error& e) {
        if (e.code() != ExitCode::BadInput) std::abort();
    }
    return 0;
}
