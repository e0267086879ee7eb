// libFuzzer target: safetensors headers and every tensor's bytes.
#include "core/io/SafetensorsReader.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/util/Error.hpp"
#include "tests/fuzz/FuzzInput.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ckptconv::core;
    const ckptconv::fuzz::MemoryFile file(data, size);
    try {
        const CheckpointIndex index = read_safetensors(file.path());
        std::string scratch;
        for (const auto& t : index.tensors) tensor_bytes(index, *t.info, scratch);
    } catch (const Error& e) {
        if (e.code() != ExitCode::BadInput) std::abort();
    }
    return 0;
}
