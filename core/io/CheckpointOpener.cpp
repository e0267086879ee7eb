#include "core/io/CheckpointOpener.hpp"

#include "core/io/CheckpointFolder.hpp"
#include "core/io/DeepSpeedCheckpoint.hpp"
#include "core/io/SafetensorsReader.hpp"
#include "core/io/ShardedReader.hpp"
#include "core/io/TorchLegacyReader.hpp"
#include "core/io/TorchZipReader.hpp"
#include "core/util/Error.hpp"

#include <filesystem>

namespace ckptconv::core {

CheckpointIndex open_checkpoint(const std::string& path, const ReadOptions& options) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        const auto inner = resolve_checkpoint_folder(path);
        CheckpointIndex index = std::filesystem::is_directory(inner, ec) ? read_deepspeed_folder(inner, path, options)
                                : inner.extension() == ".json"           ? read_sharded(inner, options)
                                                               : open_checkpoint_file(inner.string(), options);
        if (const auto latest = std::filesystem::path(path) / "latest"; std::filesystem::is_regular_file(latest, ec))
            index.also_read.push_back(latest.string());
        if (const std::string training = training_state_beside(path); !training.empty())
            index.notes.push_back("training state beside the weights, not read: " + training);
        return index;
    }
    if (path.size() > 11 && path.compare(path.size() - 11, 11, ".index.json") == 0) return read_sharded(path, options);
    return open_checkpoint_file(path, options);
}

CheckpointIndex open_checkpoint_file(const std::string& path, const ReadOptions& options) {
    MappedFile probe(path);
    if (probe.size() == 0) throw bad_input(path, "empty file");
    const std::string_view head = probe.slice(0, std::min<uint64_t>(probe.size(), 64), "header");
    if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) return read_torch_zip(path, options);
    if (head.size() >= 4 && head.compare(0, 4, "PK\x05\x06") == 0)
        throw bad_input(path, "empty zip archive: not a torch.save checkpoint");
    if (looks_like_torch_legacy(head)) return read_torch_legacy(path, options);
    if (looks_like_safetensors(head)) return read_safetensors(path);
    if (probe.size() > 262 && probe.slice(257, 5, "tar magic") == "ustar")
        throw bad_input(path, "tar archive (the PyTorch < 0.4 format) is not supported");
    throw bad_input(path, "not a checkpoint: neither a torch zip, a legacy torch pickle nor safetensors");
}

} // namespace ckptconv::core
