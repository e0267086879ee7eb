#include "core/plan/ConversionWriter.hpp"

#include "core/io/ConfigProvenance.hpp"
#include "core/io/PickleAllowList.hpp"
#include "core/io/SafetensorsWriter.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/TorchZipWriter.hpp"
#include "core/util/Error.hpp"

#include <map>
#include <set>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kDiffusersShard = 5'000'000'000;    // huggingface_hub's default, decimal
constexpr uint64_t kTransformersShard = 5'000'000'000; // save_pretrained's max_shard_size "5GB"

bool holds_tensor(const PyObject& o) { return count_reachable_tensors(o, false, 1) > 0; }

// The dict at dotted `path` under `top`, created as OrderedDicts on the way.
PyObject& root_dict(const PyRef& top, const std::string& path) {
    PyObject* node = top.get();
    size_t start = 0;
    while (!path.empty() && start <= path.size()) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        PyRef child = node->dict_get(part);
        if (!child || child->kind != PyKind::Dict) {
            child = PyObject::make(PyKind::Dict);
            child->ordered = true;
            node->dict_set(PyObject::make_str(part), child);
        }
        node = child.get();
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return *node;
}

std::vector<ReportFile> write_pt(const CheckpointIndex& index, const Plan& plan, const PlanExecutor& ex,
                                 const ConversionOutput& output, OutputTransaction& tx,
                                 std::vector<std::string>& notes) {
    auto top = PyObject::make(PyKind::Dict);
    // A training save's non-model entries are training state: the plugin's own values replace them.
    if (plan.keep_extras && plan.model_roots.empty() && index.tree && index.tree->kind == PyKind::Dict) {
        auto extras = PyObject::make(PyKind::Dict);
        for (const auto& [k, v] : index.tree->entries)
            if (!holds_tensor(*v)) extras->dict_set(k, v);
        // Only allow-listed data leaves: an enum, a loss scaler or an omegaconf config is dropped, never re-emitted.
        const SanitizedTree safe = sanitize_for_output(extras);
        for (const auto& d : safe.dropped) notes.push_back("not kept in the pt output (off its allow-list): " + d);
        if (safe.tree->kind == PyKind::Dict)
            for (const auto& [k, v] : safe.tree->entries) top->dict_set(k, v);
    } else if (!index.extras.empty() && plan.model_roots.empty()) {
        notes.push_back(std::to_string(index.extras.size()) +
                        " non-tensor entries of the source were not kept (the plan drops them)");
    }
    // The plugin's own entries (a fairseq envelope) replace same-named extras of the source.
    for (const auto& v : plan.values) {
        const SanitizedTree safe = sanitize_for_output(v.value);
        if (!safe.dropped.empty())
            throw Error(ExitCode::Internal, "the plan's value '" + v.key + "' names a global off the allow-list");
        PyRef value = safe.tree;
        if (v.key == "extra_state" && value->kind == PyKind::Dict && !output.provenance.empty()) {
            auto copy = PyObject::make(PyKind::Dict); // the plan's value stays as the plugin set it
            copy->ordered = value->ordered;
            for (const auto& [k, e] : value->entries) copy->dict_set(k, e);
            value = copy;
            auto record = PyObject::make(PyKind::Dict); // fairseq's loader ignores extra_state's contents
            for (const auto& [k, text] : output.provenance)
                record->dict_set(PyObject::make_str(k), PyObject::make_str(text));
            value->dict_set(PyObject::make_str("ckptconv"), record);
        }
        top->dict_set(PyObject::make_str(v.key), value);
    }
    std::vector<std::shared_ptr<TensorInfo>> infos(plan.outputs.size());
    for (size_t i = 0; i < plan.outputs.size(); ++i) {
        const PlanOutput& o = plan.outputs[i];
        std::shared_ptr<TensorInfo> info;
        if (o.alias_of) {
            info = infos.at(*o.alias_of);
        } else if (const PlanNode& n = plan.nodes[static_cast<size_t>(o.expr)];
                   n.kind == OpKind::Source && ex.dtype(i) == n.dtype) {
            info = index.tensors[n.source_tensor].info; // untouched: keep its storage, view and sharing
        } else {
            info = std::make_shared<TensorInfo>();
            info->dtype = ex.dtype(i);
            info->shape = ex.shape(i);
            info->stride = contiguous_strides(info->shape);
            auto storage = std::make_shared<StorageInfo>();
            storage->dtype = info->dtype;
            storage->nbytes = ex.nbytes(i);
            storage->numel = storage->nbytes / element_size(info->dtype);
            storage->produce = std::make_shared<const std::function<void(FileWriter&)>>(
                [&ex, i](FileWriter& out) { ex.write(i, out); });
            info->storage = std::move(storage);
        }
        infos[i] = info;
        auto node = PyObject::make(PyKind::Tensor);
        node->tensor = info;
        root_dict(top, o.root).dict_set(PyObject::make_str(o.key), node);
    }
    const fs::path temp = tx.stage(output.path);
    std::string archive = output.path.stem().string();
    std::map<std::string, std::string> record = output.provenance;
    record.insert(plan.metadata.begin(), plan.metadata.end());
    write_torch_zip(index, *top, temp.string(), archive.empty() ? "archive" : archive, record);
    return {ReportFile{output.path, plan.outputs.size(), fs::file_size(temp)}};
}

std::vector<ReportFile> write_st(const Plan& plan, const PlanExecutor& ex, OutputTransaction& tx,
                                 const fs::path& target, uint64_t shard_size,
                                 const std::map<std::string, std::string>& provenance) {
    std::set<std::string> roots;
    for (const auto& o : plan.outputs) roots.insert(o.root);
    auto name_of = [&](const PlanOutput& o) { return roots.size() > 1 ? dotted_name(o.root, o.key) : o.key; };
    std::vector<SafetensorsEntry> entries;
    SafetensorsOptions opts;
    opts.shard_size = shard_size;
    opts.metadata = provenance;
    opts.metadata.insert(plan.metadata.begin(), plan.metadata.end()); // the plugin's, e.g. a LoRA's scale
    for (size_t i = 0; i < plan.outputs.size(); ++i) {
        const PlanOutput& o = plan.outputs[i];
        if (o.alias_of) {
            opts.aliases[name_of(o)] = name_of(plan.outputs[*o.alias_of]);
            continue;
        }
        SafetensorsEntry e;
        e.name = name_of(o);
        e.dtype = ex.dtype(i);
        e.shape = ex.shape(i);
        e.nbytes = ex.nbytes(i);
        e.write = [&ex, i](FileWriter& out) { ex.write(i, out); };
        entries.push_back(std::move(e));
    }
    std::vector<ReportFile> files;
    for (const auto& f : write_safetensors(tx, target, entries, opts)) files.push_back({f.path, f.tensors, f.bytes});
    return files;
}

} // namespace

std::vector<ReportFile> write_conversion(const CheckpointIndex& index, const Plan& plan, const PlanExecutor& executor,
                                         const ConversionOutput& output, OutputTransaction& tx,
                                         std::vector<std::string>& notes) {
    if (output.format == "pt") return write_pt(index, plan, executor, output, tx, notes);
    if (!plan.values.empty()) {
        std::string keys;
        for (const auto& v : plan.values) keys += (keys.empty() ? "" : ", ") + v.key;
        notes.push_back("the plugin's non-tensor entries (" + keys + ") need a pt output; " + output.format +
                        " cannot hold them, so the target's loader may not open this file (--to pt)");
    }
    if (!index.extras.empty() && plan.model_roots.empty()) // a training save's are listed as training state
        notes.push_back(std::to_string(index.extras.size()) +
                        " non-tensor entries cannot be stored in safetensors and were left out");
    if (output.format == "safetensors")
        return write_st(plan, executor, tx, output.path, output.shard_size, output.provenance);
    std::vector<ReportFile> files;
    if (output.format == "hf") { // a transformers model folder: weights beside config.json, as save_pretrained
        tx.make_dirs(output.path);
        files = write_st(plan, executor, tx, output.path / "model.safetensors",
                         output.shard_size ? output.shard_size : kTransformersShard, output.provenance);
    } else if (output.format == "diffusers" && plan.target_name == kDiffusersLora) {
        tx.make_dirs(output.path);
        files = write_st(plan, executor, tx, output.path / "pytorch_lora_weights.safetensors", output.shard_size,
                         output.provenance);
    } else if (output.format == "diffusers") {
        if (plan.component_dir.empty())
            throw Error(ExitCode::Usage,
                        "--to diffusers: this plugin's plan names no component folder; use --to pt or safetensors");
        tx.make_dirs(output.path / plan.component_dir);
        files = write_st(plan, executor, tx, output.path / plan.component_dir / "diffusion_pytorch_model.safetensors",
                         output.shard_size ? output.shard_size : kDiffusersShard, output.provenance);
    } else {
        throw Error(ExitCode::Usage, "unknown output format " + output.format);
    }
    for (const auto& f : plan.files) {
        const fs::path target = output.path / f.path;
        // diffusers drops underscore keys of its configs; transformers keeps unknown keys as attributes, so its
        // config.json stays as the plugin wrote it.
        const std::string content = output.format == "diffusers" && target.extension() == ".json"
                                        ? with_config_provenance(f.content, output.provenance)
                                        : f.content;
        tx.make_dirs(target.parent_path());
        tx.write_text(target, content);
        files.push_back({target, 0, content.size()});
    }
    return files;
}

} // namespace ckptconv::core
