#include "core/io/Recontainer.hpp"

#include "core/io/OutputTransaction.hpp"
#include "core/io/PickleAllowList.hpp"
#include "core/io/SafetensorsWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/TorchZipWriter.hpp"
#include "core/util/Error.hpp"

#include <set>
#include <tuple>

namespace ckptconv::core {
namespace {

// Two tensors are one and the same data when they view one storage identically.
using ViewKey = std::tuple<const StorageInfo*, int64_t, std::vector<int64_t>, std::vector<int64_t>, DType>;

RecontainerResult to_safetensors(const CheckpointIndex& index, OutputTransaction& tx,
                                 const RecontainerOptions& options) {
    RecontainerResult result;
    std::vector<SafetensorsEntry> entries;
    std::set<std::string> names;
    std::map<ViewKey, std::string> written;
    SafetensorsOptions st;
    st.shard_size = options.shard_size;
    for (const auto& t : index.tensors) {
        const std::string name = flat_name(index, t);
        if (!names.insert(name).second)
            throw Error(ExitCode::PlanRejected,
                        "two tensors would both be named '" + name + "' in the safetensors output");
        const TensorInfo& info = *t.info;
        const ViewKey key{info.storage.get(), info.storage_offset, info.shape, info.stride, info.dtype};
        if (auto it = written.find(key); it != written.end()) {
            st.aliases[name] = it->second;
            continue;
        }
        written.emplace(key, name);
        SafetensorsEntry e;
        e.name = name;
        e.dtype = info.dtype;
        e.shape = info.shape;
        e.nbytes = t.nbytes();
        const TensorInfo* ip = &info;
        const uint64_t nbytes = e.nbytes;
        e.write = [&index, ip, nbytes](FileWriter& out) {
            if (is_gathered(*ip)) {
                write_gathered(index, *ip->storage, out);
            } else if (is_row_major(*ip)) {
                out.copy_from(*index.files.at(ip->storage->file), tensor_file_offset(*ip), nbytes);
            } else {
                std::string scratch;
                out.write(tensor_bytes(index, *ip, scratch));
            }
        };
        entries.push_back(std::move(e));
    }
    for (const auto& f : write_safetensors(tx, options.output, entries, st))
        result.files.push_back({f.path, f.tensors, f.bytes});
    result.tensors_written = entries.size();
    result.aliases = st.aliases;
    result.extras_not_kept = index.extras.size();
    return result;
}

} // namespace

RecontainerResult recontainer(const CheckpointIndex& index, const std::vector<std::filesystem::path>& inputs,
                              const RecontainerOptions& options) {
    OutputTransaction tx(options.force, inputs);
    RecontainerResult result;
    if (options.to == "pt") {
        const SanitizedTree safe = sanitize_for_output(object_tree(index));
        if (safe.dropped_tensors > 0)
            throw Error(ExitCode::PlanRejected, index.path + ": " + std::to_string(safe.dropped_tensors) +
                                                    " tensors sit inside objects a pt output may not name (" +
                                                    safe.dropped.front() +
                                                    "); convert them with a plugin or --to safetensors");
        result.dropped_extras = safe.dropped;
        const auto temp = tx.stage(options.output);
        std::string archive = options.output.stem().string();
        if (archive.empty()) archive = "archive";
        write_torch_zip(index, *safe.tree, temp.string(), archive);
        result.files.push_back({options.output, index.tensors.size(), std::filesystem::file_size(temp)});
        result.tensors_written = index.tensors.size();
    } else if (options.to == "safetensors") {
        result = to_safetensors(index, tx, options);
    } else {
        throw Error(ExitCode::Usage,
                    "--to " + options.to + " needs a plugin (a pure change of container writes pt or safetensors)");
    }
    tx.commit();
    return result;
}

} // namespace ckptconv::core
