#include "core/io/TorchZipWriter.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/PickleWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/ZipWriter.hpp"

#include <nlohmann/json.hpp>

namespace ckptconv::core {

uint64_t write_torch_zip(const CheckpointIndex& source, const PyObject& tree, const std::string& path,
                         const std::string& archive_name, const std::map<std::string, std::string>& provenance) {
    PickleWriter pickler;
    const std::string pickle = pickler.write(tree);
    FileWriter out(path);
    ZipWriter zip(out);
    const std::string prefix = archive_name + "/";
    zip.add(prefix + "data.pkl", pickle);
    zip.add(prefix + "byteorder", "little");
    uint64_t bytes = 0;
    const auto& storages = pickler.storages();
    for (size_t i = 0; i < storages.size(); ++i) {
        const StorageInfo& s = *storages[i];
        if (s.produce)
            zip.add_stream(prefix + "data/" + std::to_string(i), s.nbytes, *s.produce);
        else if (!s.pieces.empty())
            zip.add_stream(prefix + "data/" + std::to_string(i), s.nbytes,
                           [&](FileWriter& w) { write_gathered(source, s, w); });
        else
            zip.add_copy(prefix + "data/" + std::to_string(i), *source.files.at(s.file), s.data_offset, s.nbytes);
        bytes += s.nbytes;
    }
    zip.add(prefix + "version", "3\n");
    if (!provenance.empty()) zip.add(prefix + kTorchZipProvenanceRecord, nlohmann::json(provenance).dump(2) + "\n");
    zip.finish();
    out.close();
    return bytes;
}

} // namespace ckptconv::core
