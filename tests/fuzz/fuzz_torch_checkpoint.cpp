// libFuzzer target: torch zip and legacy containers, their pickles, every tensor's bytes, and
// the pt writer's view of the tree (sanitized, then pickled: it must never name a global off
// the allow-list). Only ckptconv's own BadInput errors are acceptable outcomes; anything else
// (an Internal error from the writer included) is a finding.
#include "core/host/AbiIndex.hpp"
#include "core/io/PickleAllowList.hpp"
#include "core/io/PickleWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/TorchLegacyReader.hpp"
#include "core/io/TorchZipReader.hpp"
#include "core/util/Error.hpp"
#include "tests/fuzz/FuzzInput.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ckptconv::core;
    const ckptconv::fuzz::MemoryFile file(data, size);
    const std::string_view head(reinterpret_cast<const char*>(data), size);
    try {
        const CheckpointIndex index =
            looks_like_torch_legacy(head) ? read_torch_legacy(file.path()) : read_torch_zip(file.path());
        const AbiIndex abi(index);
        std::string scratch;
        for (const auto& t : index.tensors) tensor_bytes(index, *t.info, scratch);
        const SanitizedTree safe = sanitize_for_output(object_tree(index));
        PickleWriter().write(*safe.tree);
    } catch (const Error& e) {
        if (e.code() != ExitCode::BadInput) std::abort();
    }
    return 0;
}
