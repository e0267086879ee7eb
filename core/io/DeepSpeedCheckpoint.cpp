#include "core/io/DeepSpeedCheckpoint.hpp"

#include "core/index/LightningSave.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/io/FloatRounding.hpp"
#include "core/io/ModelParallel.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/ZeroPartitions.hpp"
#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <set>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

enum class Layout { Zero12, Bf16Optimizer, Zero3 };

const char* layout_name(Layout l) {
    switch (l) {
    case Layout::Zero12: return "ZeRO 1/2";
    case Layout::Bf16Optimizer: return "BF16_Optimizer";
    case Layout::Zero3: return "ZeRO 3";
    }
    return "";
}

/** The rank files of one tag folder, each list in data-parallel rank order (training-saves.md 3.1). */
struct TagFiles {
    std::vector<fs::path> mp_states;    ///< mp_rank_{mp}_model_states.pt, model-parallel rank order (ZeRO 0/1/2, SAT)
    std::vector<fs::path> zero3_states; ///< zero_pp_rank_{dp}_mp_rank_00_model_states.pt (ZeRO 3)
    std::vector<fs::path> optim_states; ///< [bf16_]zero_pp_rank_{dp}_mp_rank_00_optim_states.pt
};

// Ranks are numbered, not zero-padded: order them as numbers (rank 10 after rank 9), and require 0..N-1.
std::vector<fs::path> in_rank_order(std::map<uint64_t, fs::path> ranks, const fs::path& folder, const char* what,
                                    const char* parallelism = "data-parallel") {
    std::vector<fs::path> out;
    for (auto& [rank, path] : ranks) {
        if (rank != out.size())
            throw bad_input(folder.string(), std::string("holds no ") + what + " file for " + parallelism + " rank " +
                                                 std::to_string(out.size()) + " (found rank " + std::to_string(rank) +
                                                 "): a rank is missing");
        out.push_back(std::move(path));
    }
    return out;
}

TagFiles list_tag(const fs::path& folder) {
    static const std::regex mp_model(R"(mp_rank_(\d+)_model_states\.pt)");
    static const std::regex zero_model(R"(zero_pp_rank_(\d+)_mp_rank_(\d+)_model_states\.pt)");
    static const std::regex zero_optim(R"((bf16_)?zero_pp_rank_(\d+)_mp_rank_(\d+)_optim_states\.pt)");
    static const std::regex z3(R"(z3_rank_\d+_model_states\.pt)");
    static const std::regex pipeline(R"(layer_\d+.*model_states\.pt)");
    TagFiles files;
    std::map<uint64_t, fs::path> mp_states, zero3, optim;
    bool zero_model_parallel = false;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder)) {
        const std::string name = e.path().filename().string();
        std::smatch m;
        auto rank_of = [&](size_t group) {
            const std::string digits = m[group].str();
            if (digits.size() > 9) throw bad_input(e.path().string(), "has a rank number too large to be one");
            return std::stoull(digits);
        };
        if (name == "zero" && e.is_directory(ec))
            throw bad_input(folder.string(), "holds zero/, a DeepSpeed universal checkpoint (ds_to_universal.py): "
                                             "not supported; convert the tag folder it was made from");
        if (name == "offloaded_tensors")
            throw bad_input(folder.string(), "keeps its optimizer state on NVMe (offloaded_tensors/), whose swap "
                                             "files' format is not documented: not read");
        if (name.rfind("expp_rank_", 0) == 0 || name.find("_expert_") != std::string::npos)
            throw bad_input(e.path().string(), "is a mixture-of-experts rank file: not supported");
        if (std::regex_match(name, pipeline))
            throw bad_input(e.path().string(), "is a pipeline-parallel layer file: merging pipeline stages is "
                                               "not supported");
        if (std::regex_match(name, z3))
            throw bad_input(e.path().string(), "is a SAT ZeRO-3 partition file: not supported");
        if (std::regex_match(name, m, mp_model)) {
            mp_states.emplace(rank_of(1), e.path());
        } else if (std::regex_match(name, m, zero_model)) {
            zero_model_parallel |= rank_of(2) > 0;
            if (rank_of(2) == 0 && !zero3.emplace(rank_of(1), e.path()).second)
                throw bad_input(folder.string(), "holds two model-states files for rank " + m[1].str());
        } else if (std::regex_match(name, m, zero_optim)) {
            zero_model_parallel |= rank_of(3) > 0;
            if (rank_of(3) == 0 && !optim.emplace(rank_of(2), e.path()).second)
                throw bad_input(folder.string(), "holds two optim-states files for rank " + m[2].str() +
                                                     " (with and without the bf16_ prefix)");
        }
    }
    files.mp_states = in_rank_order(std::move(mp_states), folder, "mp_rank_*_model_states.pt", "model-parallel");
    files.zero3_states = in_rank_order(std::move(zero3), folder, "zero_pp_rank_*_model_states.pt");
    files.optim_states = in_rank_order(std::move(optim), folder, "*_optim_states.pt");
    if (zero_model_parallel ||
        (files.mp_states.size() > 1 && !(files.zero3_states.empty() && files.optim_states.empty())))
        throw bad_input(folder.string(), "is a model-parallel save with ZeRO partitions (zero_pp_rank_*_mp_rank_XX "
                                         "files): merging ZeRO partitions over model-parallel ranks is not supported");
    if (files.mp_states.empty() && files.zero3_states.empty())
        throw bad_input(folder.string(), "holds no mp_rank_00_model_states.pt or zero_pp_rank_0_mp_rank_00_"
                                         "model_states.pt");
    return files;
}

// --- reading the object trees -------------------------------------------------------------------------

PyRef entry(const PyRef& dict, const std::string& key) {
    return dict && dict->kind == PyKind::Dict ? dict->dict_get(key) : nullptr;
}

std::vector<int64_t> size_of(const PyObject& v, const std::string& file, const std::string& name) {
    // torch.Size pickles as an object wrapping a tuple of ints.
    const PyObject* seq = &v;
    if (v.kind == PyKind::Object && v.args && !v.args->items.empty()) seq = v.args->items[0].get();
    if (seq->kind != PyKind::Tuple && seq->kind != PyKind::List)
        throw bad_input(file, "param_shapes: the shape of '" + name + "' is no torch.Size but " + type_name(v));
    std::vector<int64_t> dims;
    for (const auto& d : seq->items) {
        if (d->kind != PyKind::Int || d->integer < 0)
            throw bad_input(file, "param_shapes: the shape of '" + name + "' holds something other than sizes");
        dims.push_back(d->integer);
    }
    return dims;
}

struct NamedShape {
    std::string name;
    std::vector<int64_t> shape;
    uint64_t numel = 1;
};

std::vector<NamedShape> named_shapes(const PyObject& dict, const std::string& file, const char* key) {
    if (dict.kind != PyKind::Dict) throw bad_input(file, std::string(key) + " is not a dict of names to shapes");
    std::vector<NamedShape> out;
    const Checked math(file, key, " numel");
    for (const auto& [k, v] : dict.entries) {
        if (k->kind != PyKind::Str) throw bad_input(file, std::string(key) + " has a key that is not a name");
        NamedShape s{k->text, size_of(*v, file, k->text), 1};
        for (int64_t d : s.shape) s.numel = math.mul(s.numel, static_cast<uint64_t>(d));
        out.push_back(std::move(s));
    }
    return out;
}

/** ZeroStageEnum pickles as getattr(ZeroStageEnum, 'gradients'); versions before 0.7 wrote a plain int. */
std::optional<int64_t> zero_stage(const PyRef& v, const std::string& file) {
    if (!v) return std::nullopt;
    if (v->kind == PyKind::Int) return v->integer;
    if (v->kind == PyKind::Object && v->attribute_lookup && v->args && v->args->items.size() == 2) {
        const std::string& member = v->args->items[1]->text;
        static const std::map<std::string, int64_t> stages{
            {"disabled", 0}, {"optimizer_states", 1}, {"gradients", 2}, {"weights", 3}};
        if (auto it = stages.find(member); it != stages.end()) return it->second;
    }
    throw bad_input(file, "optimizer_state_dict.zero_stage is " + type_name(*v) + ", not a ZeRO stage");
}

/** The tensors of a list entry (one per param group or sub-group), each a whole row-major 1-D view. */
std::vector<const TensorInfo*> flat_groups(const PyRef& list, const std::string& file, const std::string& key) {
    if (!list || list->kind != PyKind::List) throw bad_input(file, "optimizer_state_dict." + key + " is not a list");
    std::vector<const TensorInfo*> out;
    for (const auto& t : list->items) {
        if (t->kind != PyKind::Tensor || t->tensor->shape.size() != 1 || !is_row_major(*t->tensor) ||
            (t->tensor->dtype != DType::F32 && t->tensor->dtype != DType::F16))
            throw bad_input(file, "optimizer_state_dict." + key + " holds something other than flat fp32 tensors");
        out.push_back(t->tensor.get());
    }
    return out;
}

// --- gathering ----------------------------------------------------------------------------------------

/** One rank's flat stream: tensors laid end to end, each a byte range of that rank's file. */
struct Stream {
    struct Part {
        uint32_t file;
        uint64_t offset; ///< bytes, in the file
        uint64_t numel;
    };
    std::vector<Part> parts;
    DType dtype = DType::Invalid;

    uint64_t numel() const {
        uint64_t n = 0;
        for (const Part& p : parts) n += p.numel;
        return n;
    }

    void add(uint32_t file, const TensorInfo& t, const std::string& path) {
        if (dtype != DType::Invalid && dtype != t.dtype) throw bad_input(path, "mixes dtypes in one rank's partitions");
        dtype = t.dtype;
        parts.push_back({file, tensor_file_offset(t), static_cast<uint64_t>(t.shape.empty() ? 1 : t.shape[0])});
    }

    /** Elements [start, start+count) as byte ranges (a slice may cross from one sub-group tensor to the next). */
    void pieces(uint64_t start, uint64_t count, std::vector<StoragePiece>& out) const {
        const uint32_t esize = element_size(dtype);
        for (const Part& p : parts) {
            if (count == 0) return;
            if (start >= p.numel) {
                start -= p.numel;
                continue;
            }
            const uint64_t take = std::min(count, p.numel - start);
            out.push_back({p.file, p.offset + start * esize, take * esize});
            start = 0;
            count -= take;
        }
    }
};

std::shared_ptr<TensorInfo> gathered(const std::string& name, const Dims& shape, uint64_t numel, DType stored,
                                     DType presented, std::vector<StoragePiece> pieces) {
    auto storage = std::make_shared<StorageInfo>();
    storage->key = name;
    storage->numel = numel;
    storage->nbytes = numel * element_size(presented);
    storage->dtype = presented;
    storage->pieces = std::move(pieces);
    storage->pieces_dtype = stored;
    auto info = std::make_shared<TensorInfo>();
    info->storage = std::move(storage);
    info->dtype = presented;
    info->shape = shape;
    info->stride.assign(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) info->stride[d - 1] = info->stride[d] * shape[d];
    return info;
}

PyRef tensor_node(std::shared_ptr<TensorInfo> info) {
    auto node = PyObject::make(PyKind::Tensor);
    node->tensor = std::move(info);
    return node;
}

/** Every opened rank file, with its mappings moved into the one index the caller gets. */
class OpenedFiles {
  public:
    explicit OpenedFiles(const ReadOptions& options) : options_(options) {}

    /** Opens `path`; returns its tree and the number its first mapping will have in `files`. */
    std::pair<PyRef, uint32_t> open(const fs::path& path) {
        CheckpointIndex index = open_checkpoint_file(path.string(), options_);
        if (!index.tree || index.tree->kind != PyKind::Dict)
            throw bad_input(path.string(), "is not a DeepSpeed states file (expected a dict at the top level)");
        const auto first = static_cast<uint32_t>(files.size());
        for (auto& f : index.files) files.push_back(std::move(f));
        for (auto& d : index.unsafe_dropped) unsafe_dropped.push_back(path.filename().string() + ": " + d);
        return {index.tree, first};
    }

    std::vector<std::unique_ptr<MappedFile>> files;
    std::vector<std::string> unsafe_dropped;

  private:
    const ReadOptions& options_;
};

/** File number of a tensor in the combined list: its reader numbered its own files from 0. */
uint32_t file_of(const TensorInfo& t, uint32_t first) { return first + t.storage->file; }

struct OptimFile {
    PyRef inner; ///< optimizer_state_dict
    uint32_t first_file = 0;
    std::string path;
};

Layout layout_of(const std::vector<OptimFile>& optim, std::string& version) {
    std::optional<Layout> layout;
    for (const OptimFile& o : optim) {
        Layout l;
        const auto stage = zero_stage(entry(o.inner, "zero_stage"), o.path);
        if (entry(o.inner, "fp32_flat_groups"))
            l = Layout::Zero3;
        else if (entry(o.inner, "single_partition_of_fp32_groups"))
            l = stage ? Layout::Zero12 : Layout::Bf16Optimizer;
        else
            throw bad_input(o.path, "optimizer_state_dict holds neither single_partition_of_fp32_groups nor "
                                    "fp32_flat_groups: not a ZeRO or BF16_Optimizer save");
        if (l == Layout::Zero3 && stage != 3) throw bad_input(o.path, "holds fp32_flat_groups but zero_stage is not 3");
        if (layout && *layout != l) throw bad_input(o.path, "is not of the same ZeRO layout as rank 0's optim file");
        layout = l;
        // partition_count: a list per group (ZeRO 1/2, BF16), an int (ZeRO 3); it must match the files present.
        const PyRef count = entry(o.inner, "partition_count");
        int64_t n = -1;
        if (count && count->kind == PyKind::Int) n = count->integer;
        if (count && count->kind == PyKind::List)
            for (const auto& c : count->items)
                if (c->kind == PyKind::Int) n = std::max(n, c->integer);
        if (n != static_cast<int64_t>(optim.size()))
            throw bad_input(o.path, "partition_count says " + std::to_string(n) + " ranks, but the folder holds " +
                                        std::to_string(optim.size()) + " optim-states files");
        if (const PyRef v = entry(o.inner, "ds_version"); v && v->kind == PyKind::Str) version = v->text;
    }
    return *layout;
}

/** The master weights: name -> gathered fp32 tensor presented in `presented`. */
std::map<std::string, std::shared_ptr<TensorInfo>> rebuild_master(Layout layout, const std::vector<OptimFile>& optim,
                                                                  const PyObject& param_shapes,
                                                                  const std::string& states_path, DType presented) {
    if (param_shapes.kind != PyKind::List || param_shapes.items.empty())
        throw bad_input(states_path, "param_shapes is missing or empty: the flat partitions cannot be named");
    std::vector<std::vector<NamedShape>> groups;
    for (const auto& g : param_shapes.items) groups.push_back(named_shapes(*g, states_path, "param_shapes"));
    std::map<std::string, std::shared_ptr<TensorInfo>> master;
    auto add = [&](const std::vector<NamedShape>& params, const std::vector<std::vector<RankSlice>>& slices,
                   const std::vector<Stream>& streams) {
        // A piece's bytes are counted in one element size: every rank must hold the dtype rank 0 holds.
        const DType stored = streams.front().dtype;
        for (size_t r = 1; r < streams.size(); ++r)
            if (streams[r].dtype != stored)
                throw bad_input(optim[r].path, "holds " + std::string(dtype_name(streams[r].dtype)) +
                                                   " partitions where rank 0's are " + std::string(dtype_name(stored)));
        for (size_t i = 0; i < params.size(); ++i) {
            const NamedShape& p = params[i];
            std::vector<StoragePiece> pieces;
            for (const RankSlice& r : slices[i]) streams[r.rank].pieces(r.start, r.count, pieces);
            if (!master.emplace(p.name, gathered(p.name, p.shape, p.numel, stored, presented, std::move(pieces)))
                     .second)
                throw bad_input(states_path, "param_shapes names '" + p.name + "' twice");
        }
    };
    const std::string& where = optim.front().path;
    if (layout == Layout::Zero3) { // sub-groups concatenated: one stream per rank, one list of params
        std::vector<Stream> streams(optim.size());
        std::vector<uint64_t> lengths;
        for (size_t r = 0; r < optim.size(); ++r) {
            for (const TensorInfo* t :
                 flat_groups(entry(optim[r].inner, "fp32_flat_groups"), optim[r].path, "fp32_flat_groups"))
                streams[r].add(file_of(*t, optim[r].first_file), *t, optim[r].path);
            lengths.push_back(streams[r].numel());
        }
        std::vector<NamedShape> params;
        for (auto& g : groups) params.insert(params.end(), g.begin(), g.end());
        std::vector<uint64_t> numels;
        for (const auto& p : params) numels.push_back(p.numel);
        add(params, zero3_slices(lengths, numels, where), streams);
        return master;
    }
    for (size_t g = 0; g < groups.size(); ++g) {
        std::vector<Stream> streams(optim.size());
        std::vector<uint64_t> lengths;
        int64_t padding = layout == Layout::Bf16Optimizer ? 0 : -1;
        for (size_t r = 0; r < optim.size(); ++r) {
            const auto parts = flat_groups(entry(optim[r].inner, "single_partition_of_fp32_groups"), optim[r].path,
                                           "single_partition_of_fp32_groups");
            if (parts.size() != groups.size())
                throw bad_input(optim[r].path, "holds " + std::to_string(parts.size()) + " param groups, but " +
                                                   "param_shapes lists " + std::to_string(groups.size()));
            streams[r].add(file_of(*parts[g], optim[r].first_file), *parts[g], optim[r].path);
            lengths.push_back(streams[r].numel());
            if (layout == Layout::Bf16Optimizer) { // its padding is kept, and recorded in group_paddings
                const PyRef paddings = entry(optim[r].inner, "group_paddings");
                if (!paddings || paddings->kind != PyKind::List || paddings->items.size() != groups.size() ||
                    paddings->items[g]->kind != PyKind::Int || paddings->items[g]->integer < 0)
                    throw bad_input(optim[r].path, "group_paddings is not one count per param group");
                padding += paddings->items[g]->integer;
            }
        }
        std::vector<uint64_t> numels;
        for (const auto& p : groups[g]) numels.push_back(p.numel);
        add(groups[g], zero12_slices(lengths, numels, padding, where + " (param group " + std::to_string(g) + ")"),
            streams);
    }
    return master;
}

/** ZeRO 3 frozen params: each rank's model-states file holds its ceil(numel/dp) slice in the stored dtype. */
std::map<std::string, std::shared_ptr<TensorInfo>> gather_frozen(const std::vector<std::pair<PyRef, uint32_t>>& ranks,
                                                                 const std::vector<fs::path>& paths,
                                                                 std::optional<DType> asked) {
    std::map<std::string, std::shared_ptr<TensorInfo>> frozen;
    const PyRef shapes = entry(ranks[0].first, "frozen_param_shapes");
    if (!shapes || shapes->kind == PyKind::None) return frozen;
    const uint64_t dp = ranks.size();
    for (const NamedShape& p : named_shapes(*shapes, paths[0].string(), "frozen_param_shapes")) {
        const uint64_t size = p.numel / dp + (p.numel % dp != 0);
        std::vector<StoragePiece> pieces;
        DType stored = DType::Invalid;
        for (uint64_t r = 0; r < dp && r * size < p.numel; ++r) {
            const PyRef t = entry(entry(ranks[r].first, "frozen_param_fragments"), p.name);
            if (!t || t->kind != PyKind::Tensor || !is_row_major(*t->tensor) ||
                static_cast<uint64_t>(t->tensor->shape.empty() ? 1 : t->tensor->shape[0]) < size ||
                (stored != DType::Invalid && stored != t->tensor->dtype))
                throw bad_input(paths[r].string(), "frozen_param_fragments has no " + std::to_string(size) +
                                                       "-element fragment of '" + p.name + "'");
            stored = t->tensor->dtype;
            const uint64_t count = std::min(size, p.numel - r * size);
            pieces.push_back(
                {file_of(*t->tensor, ranks[r].second), tensor_file_offset(*t->tensor), count * element_size(stored)});
        }
        const DType presented = asked && stored != DType::Invalid ? *asked : stored;
        frozen.emplace(p.name, gathered(p.name, p.shape, p.numel, stored, presented, std::move(pieces)));
    }
    return frozen;
}

/** The dtype training ran in: the first floating tensor of `module` that is a param (not a buffer). */
DType training_dtype(const PyObject& module, const std::set<std::string>& buffers) {
    for (const auto& [k, v] : module.entries)
        if (v->kind == PyKind::Tensor && !buffers.count(k->text) &&
            (v->tensor->dtype == DType::BF16 || v->tensor->dtype == DType::F16 || v->tensor->dtype == DType::F32))
            return v->tensor->dtype;
    return DType::F32;
}

/** Rounds each master param to `module`'s dtype and compares bits; returns the names that differ. */
std::vector<std::string> master_mismatches(const CheckpointIndex& view, const PyObject& module,
                                           const std::map<std::string, std::shared_ptr<TensorInfo>>& master) {
    std::vector<std::string> differ;
    std::string rounded, saved;
    for (const auto& [name, info] : master) {
        const PyRef m = module.dict_get(name);
        if (!m || m->kind != PyKind::Tensor || m->tensor->shape != info->shape) {
            differ.push_back(name + " (not in module with this shape)");
            continue;
        }
        auto copy = std::make_shared<StorageInfo>(*info->storage);
        copy->dtype = m->tensor->dtype;
        copy->nbytes = copy->numel * element_size(copy->dtype);
        rounded.resize(copy->nbytes);
        read_gathered(view, *copy, rounded.data());
        const std::string_view have = tensor_bytes(view, *m->tensor, saved);
        if (have.size() != rounded.size() || std::memcmp(have.data(), rounded.data(), rounded.size()) != 0) {
            uint64_t elements = 0;
            const uint32_t esize = element_size(copy->dtype);
            for (uint64_t i = 0; i < copy->numel; ++i)
                elements += std::memcmp(have.data() + i * esize, rounded.data() + i * esize, esize) != 0;
            differ.push_back(name + " (" + std::to_string(elements) + " of " + std::to_string(copy->numel) +
                             " elements)");
        }
        // Both copies were read through the mappings: drop their pages from the resident set as we go.
        for (const StoragePiece& p : copy->pieces) view.files.at(p.file)->release(p.offset, p.nbytes);
        if (!is_gathered(*m->tensor))
            view.files.at(m->tensor->storage->file)->release(tensor_file_offset(*m->tensor), have.size());
    }
    return differ;
}

// --- model-parallel ranks (training-saves.md 4) -------------------------------------------------------

/** Throws unless rank `r`'s copy of `key` can stand beside rank 0's: a row-major tensor of the same dtype and shape. */
void check_rank_copy(const PyRef& mine, const TensorInfo& first, const std::string& key, const fs::path& path) {
    if (!mine || mine->kind != PyKind::Tensor)
        throw bad_input(path.string(), "has no tensor '" + key +
                                           "' in `module`, which rank 0 has: the model-parallel "
                                           "ranks' key sets differ");
    const TensorInfo& t = *mine->tensor;
    if (t.dtype != first.dtype || t.shape != first.shape)
        throw bad_input(path.string(), "'" + key + "' is " + std::string(dtype_name(t.dtype)) + " " +
                                           dims_text(t.shape) + " here and " + std::string(dtype_name(first.dtype)) +
                                           " " + dims_text(first.shape) +
                                           " on rank 0: model-parallel ranks hold "
                                           "equal parts");
    if (!is_row_major(t) || is_gathered(t))
        throw bad_input(path.string(), "'" + key + "' is a strided view: a model-parallel part must be row-major");
}

/** True when the bytes of two copies are equal (read from the mappings, released as they are compared). */
bool same_bytes(const MappedFile& a, uint64_t a_offset, const MappedFile& b, uint64_t b_offset, uint64_t nbytes) {
    constexpr uint64_t kChunk = 16u << 20;
    for (uint64_t done = 0; done < nbytes; done += kChunk) {
        const uint64_t n = std::min(kChunk, nbytes - done);
        const bool equal = std::memcmp(a.slice(a_offset + done, n, "tensor data").data(),
                                       b.slice(b_offset + done, n, "tensor data").data(), n) == 0;
        a.release(a_offset + done, n);
        b.release(b_offset + done, n);
        if (!equal) return false;
    }
    return true;
}

/**
 * Every model-parallel rank's `module` merged into rank 0's (`module`, its files numbered from `first`) by
 * the plugin's rules: split tensors become gathered byte ranges of the rank files, replicated ones stay
 * rank 0's once proven byte-equal on every rank. Returns the report's line.
 */
std::string merge_model_parallel(PyObject& module, uint32_t first, const std::vector<fs::path>& paths,
                                 OpenedFiles& opened, const std::vector<PartitionRule>& rules,
                                 const std::string& rules_from) {
    const auto n = static_cast<uint32_t>(paths.size());
    std::vector<std::pair<PyRef, uint32_t>> ranks;
    for (uint32_t r = 1; r < n; ++r) {
        auto [tree, first_file] = opened.open(paths[r]);
        const PyRef m = entry(tree, "module");
        if (!m || m->kind != PyKind::Dict)
            throw bad_input(paths[r].string(), "has no `module` state dict: not a model-states file");
        if (const PyRef w = entry(tree, "mp_world_size"); w && w->kind == PyKind::Int && w->integer != n)
            throw bad_input(paths[r].string(), "says mp_world_size " + std::to_string(w->integer) +
                                                   ", but the folder "
                                                   "holds " +
                                                   std::to_string(n) + " model-parallel ranks");
        if (m->entries.size() != module.entries.size())
            throw bad_input(paths[r].string(), "holds " + std::to_string(m->entries.size()) +
                                                   " entries in `module` "
                                                   "and rank 0 " +
                                                   std::to_string(module.entries.size()) +
                                                   ": the model-parallel ranks' key sets differ");
        ranks.emplace_back(m, first_file);
    }
    std::map<PartitionKind, uint64_t> counts;
    for (auto& [k, v] : module.entries) {
        if (k->kind != PyKind::Str || v->kind != PyKind::Tensor) continue;
        const std::string& key = k->text;
        const PartitionRule* rule = partition_of(rules, key);
        const PartitionKind kind = rule ? rule->kind : PartitionKind::Replicated;
        if (kind == PartitionKind::Refuse)
            throw Error(ExitCode::PlanRejected, paths[0].parent_path().string() + ": '" + key +
                                                    "' cannot be merged over model-parallel ranks: " + rule->reason);
        const TensorInfo& t = *v->tensor;
        check_rank_copy(v, t, key, paths[0]);
        std::vector<RankCopy> copies{{first + t.storage->file, tensor_file_offset(t)}};
        for (uint32_t r = 1; r < n; ++r) {
            const PyRef mine = ranks[r - 1].first->dict_get(key);
            check_rank_copy(mine, t, key, paths[r]);
            copies.push_back({ranks[r - 1].second + mine->tensor->storage->file, tensor_file_offset(*mine->tensor)});
        }
        ++counts[kind];
        uint64_t numel = 1;
        for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
        if (kind == PartitionKind::Replicated) {
            for (uint32_t r = 1; r < n; ++r)
                if (!same_bytes(*opened.files.at(copies[0].file), copies[0].offset, *opened.files.at(copies[r].file),
                                copies[r].offset, numel * element_size(t.dtype)))
                    throw bad_input(paths[r].string(),
                                    "'" + key + "' differs from rank 0's copy, but " +
                                        (rule ? "the partition rules call it replicated"
                                              : "no partition rule splits it, so every rank must hold it whole") +
                                        " (rank 0's would be taken)");
            continue;
        }
        const uint32_t stride = std::max<uint32_t>(rule->stride, 1);
        const Dims shape = merged_shape(kind, stride, t.shape, n, paths[0].string(), key);
        v = tensor_node(gathered(key, shape, numel * n, t.dtype, t.dtype,
                                 merged_pieces(kind, stride, t.shape, element_size(t.dtype), copies)));
    }
    return "model-parallel save over " + std::to_string(n) + " ranks merged with " + rules_from +
           "'s partition rules: " + std::to_string(counts[PartitionKind::Column]) + " column-parallel, " +
           std::to_string(counts[PartitionKind::Row]) + " row-parallel, " +
           std::to_string(counts[PartitionKind::Vocab]) + " vocab-parallel, " +
           std::to_string(counts[PartitionKind::Replicated]) + " replicated tensors (checked byte-equal on every rank)";
}

} // namespace

bool is_deepspeed_tag_folder(const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return false;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() > 16 && name.compare(name.size() - 16, 16, "_model_states.pt") == 0) return true;
    }
    return false;
}

CheckpointIndex read_deepspeed_folder(const fs::path& tag_folder, const std::string& named,
                                      const ReadOptions& options) {
    const TagFiles files = list_tag(tag_folder);
    const bool zero3_states = !files.zero3_states.empty();
    if (zero3_states && !files.mp_states.empty())
        throw bad_input(tag_folder.string(), "holds both mp_rank_00_model_states.pt and zero_pp_rank_*_model_"
                                             "states.pt: two saves mixed in one folder");
    OpenedFiles opened(options);
    std::vector<std::pair<PyRef, uint32_t>> states; // every rank's model states (ZeRO 3), or the one file
    const std::vector<fs::path> state_paths = zero3_states ? files.zero3_states : std::vector{files.mp_states[0]};
    for (const auto& p : state_paths) states.push_back(opened.open(p));
    const PyRef top = states[0].first;
    const std::string states_path = state_paths[0].string();
    const PyRef module = entry(top, "module");
    if (!module || module->kind != PyKind::Dict)
        throw bad_input(states_path, "has no `module` state dict: not a DeepSpeed model-states file");
    std::set<std::string> buffers;
    if (const PyRef b = entry(top, "buffer_names"); b && b->kind == PyKind::List)
        for (const auto& n : b->items)
            if (n->kind == PyKind::Str) buffers.insert(n->text);
    const DType train = training_dtype(*module, buffers);
    std::string version = "unknown";
    if (const PyRef v = entry(top, "ds_version"); v && v->kind == PyKind::Str) version = v->text;

    CheckpointIndex index;
    index.path = named;
    index.container = "deepspeed";
    const std::string tag = tag_folder.filename().string();
    std::string copy;
    if (files.optim_states.empty()) {
        if (zero3_states)
            throw bad_input(tag_folder.string(), "is a ZeRO-3 save whose `module` holds only placeholders, and its "
                                                 "*_optim_states.pt files (the weights) are missing");
        index.notes.push_back("DeepSpeed save without optimizer files (SAT, or ZeRO 0), DeepSpeed " + version +
                              ", tag " + tag + ": `module` (" + std::string(dtype_name(train)) + ") as saved");
        if (files.mp_states.size() > 1 && !options.partitions) {
            index.model_parallel_ranks = static_cast<uint32_t>(files.mp_states.size());
            index.notes.push_back("model-parallel save over " + std::to_string(files.mp_states.size()) +
                                  " ranks: rank 0 read alone, for detection");
        } else if (files.mp_states.size() > 1) {
            index.notes.push_back(merge_model_parallel(*module, states[0].second, files.mp_states, opened,
                                                       *options.partitions, options.partitions_from));
        }
        if (options.dtype && *options.dtype != train)
            index.notes.push_back("the fp32 master is not in this save: --dtype rounds the " +
                                  std::string(dtype_name(train)) + " copy");
        if (options.check_master)
            throw Error(ExitCode::Usage, "--check-master: " + tag_folder.string() +
                                             " holds no fp32 master "
                                             "(no *_optim_states.pt) to check `module` against");
    } else {
        std::vector<OptimFile> optim;
        for (const auto& p : files.optim_states) {
            auto [tree, first] = opened.open(p);
            const PyRef inner = entry(tree, "optimizer_state_dict");
            if (!inner || inner->kind != PyKind::Dict)
                throw bad_input(p.string(), "has no optimizer_state_dict: not a DeepSpeed optim-states file");
            optim.push_back({inner, first, p.string()});
        }
        const Layout layout = layout_of(optim, version);
        const bool use_master =
            layout == Layout::Zero3 || (options.dtype && (*options.dtype == DType::F32 || *options.dtype != train));
        const DType presented = options.dtype.value_or(train);
        const PyRef shapes = entry(top, "param_shapes");
        if (!shapes) throw bad_input(states_path, "has no param_shapes: the flat partitions cannot be named");
        CheckpointIndex view; // the mappings lent out, for reading the copies before the index is built
        view.files = std::move(opened.files);
        // Built from metadata alone even when `module` is used: partitions that do not add up are refused either way.
        const auto master = rebuild_master(layout, optim, *shapes, states_path, presented);
        if (options.check_master) {
            if (layout == Layout::Zero3)
                throw Error(ExitCode::Usage, "--check-master: a ZeRO-3 save keeps only the master (its `module` "
                                             "holds placeholders): there is no second copy to compare");
            const auto differ = master_mismatches(view, *module, master);
            if (!differ.empty()) {
                std::string list;
                for (size_t i = 0; i < differ.size() && i < 8; ++i) list += "\n  " + differ[i];
                throw Error(ExitCode::VerifyMismatch, tag_folder.string() + ": the fp32 master rounded to " +
                                                          std::string(dtype_name(train)) +
                                                          " differs from `module` in " + std::to_string(differ.size()) +
                                                          " of " + std::to_string(master.size()) + " params:" + list);
            }
            index.notes.push_back("checked: the fp32 master rounded to " + std::string(dtype_name(train)) +
                                  " equals `module` bit for bit in all " + std::to_string(master.size()) +
                                  " trainable params");
        }
        opened.files = std::move(view.files);
        if (use_master) {
            for (const auto& [name, info] : master) module->dict_set(PyObject::make_str(name), tensor_node(info));
            if (layout == Layout::Zero3)
                for (const auto& [name, info] : gather_frozen(states, state_paths, options.dtype))
                    module->dict_set(PyObject::make_str(name), tensor_node(info));
            copy =
                "the fp32 master rebuilt from the partitions" +
                (presented == DType::F32 ? std::string() : ", rounded once to " + std::string(dtype_name(presented)));
        } else {
            copy = "`module` (" + std::string(dtype_name(train)) + ") as saved";
        }
        index.notes.push_back("DeepSpeed " + std::string(layout_name(layout)) + " folder, DeepSpeed " + version +
                              ", tag " + tag + ", " + std::to_string(optim.size()) +
                              " data-parallel ranks read (the Adam moments are not); weights: " + copy);
        if (layout == Layout::Zero3)
            for (const auto& [k, v] : module->entries)
                if (v->kind == PyKind::Tensor && !buffers.count(k->text) && !is_gathered(*v->tensor) &&
                    !(entry(top, "shared_params") && entry(entry(top, "shared_params"), k->text)))
                    throw bad_input(states_path, "module entry '" + k->text +
                                                     "' is a ZeRO-3 placeholder that "
                                                     "neither param_shapes nor frozen_param_shapes names");
    }
    // --plugin none --dtype: the params `module` holds as saved (frozen ones, or all of them without a master)
    // and the buffers are read rounded to it as well, so a plain consolidation comes out in one dtype.
    if (options.dtype && options.dtype_for_every_tensor)
        for (auto& [k, v] : module->entries) {
            if (v->kind != PyKind::Tensor || !is_convertible_float(v->tensor->dtype) ||
                v->tensor->dtype == *options.dtype)
                continue;
            const TensorInfo& t = *v->tensor;
            if (!is_gathered(t) && !is_row_major(t)) continue;
            uint64_t numel = 1;
            for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
            const std::string name = k->kind == PyKind::Str ? k->text : type_name(*k);
            // Merged model-parallel tensors are gathered already: the same pieces, presented in the new dtype.
            v = tensor_node(
                is_gathered(t)
                    ? gathered(name, t.shape, numel, t.storage->pieces_dtype, *options.dtype, t.storage->pieces)
                    : gathered(name, t.shape, numel, t.dtype, *options.dtype,
                               {{file_of(t, states[0].second), tensor_file_offset(t), numel * element_size(t.dtype)}}));
        }
    // Tied params: only the stored name was partitioned; each alias is the same tensor (stored once).
    if (const PyRef shared = entry(top, "shared_params"); shared && shared->kind == PyKind::Dict)
        for (const auto& [alias, stored] : shared->entries) {
            const PyRef target = stored->kind == PyKind::Str ? module->dict_get(stored->text) : nullptr;
            if (alias->kind != PyKind::Str || !target || target->kind != PyKind::Tensor)
                throw bad_input(states_path, "shared_params ties '" +
                                                 (alias->kind == PyKind::Str ? alias->text : type_name(*alias)) +
                                                 "' to a param that " + "`module` does not hold");
            module->dict_set(alias, target);
        }
    index.tree =
        is_lightning_client_state(*top) ? lightning_checkpoint_from_deepspeed(*top, module, index.notes) : module;
    index.files = std::move(opened.files);
    index.unsafe_dropped = std::move(opened.unsafe_dropped);
    build_index_from_tree(index);
    return index;
}

} // namespace ckptconv::core
