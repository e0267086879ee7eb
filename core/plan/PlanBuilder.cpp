#include "core/plan/PlanBuilder.hpp"

#include "core/io/PyFromJson.hpp"

#include <algorithm>
#include <numeric>

namespace ckptconv::core {
namespace {

int64_t numel_of(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

void check_shape(const Shape& shape, const char* op) {
    for (int64_t d : shape)
        if (d < 0) throw PlanOpError(std::string(op) + ": negative size in " + shape_text(shape));
}

} // namespace

std::string shape_text(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

PlanBuilder::PlanBuilder(const CheckpointIndex& index) : index_(index) {
    for (uint64_t i = 0; i < index.tensors.size(); ++i)
        sources_.emplace(qualified_name(index.roots[index.tensors[i].root].path, index.tensors[i].key), i);
}

uint64_t PlanBuilder::find_source(const std::string& root, const std::string& key) const {
    auto it = sources_.find(qualified_name(root, key));
    if (it == sources_.end()) throw PlanOpError("no source tensor '" + key + "' in root '" + root + "'");
    return it->second;
}

const PlanNode& PlanBuilder::node(int64_t x) const {
    if (x < 0 || static_cast<uint64_t>(x) >= plan_.nodes.size())
        throw PlanOpError("invalid expression handle " + std::to_string(x));
    return plan_.nodes[static_cast<size_t>(x)];
}

int64_t PlanBuilder::normalise_dim(const PlanNode& n, int64_t dim, const char* op) const {
    const auto rank = static_cast<int64_t>(n.shape.size());
    const int64_t d = dim < 0 ? dim + rank : dim;
    if (d < 0 || d >= rank)
        throw PlanOpError(std::string(op) + ": dimension " + std::to_string(dim) + " out of range for shape " +
                          shape_text(n.shape));
    return d;
}

int64_t PlanBuilder::push(PlanNode n) {
    plan_.nodes.push_back(std::move(n));
    return static_cast<int64_t>(plan_.nodes.size() - 1);
}

int64_t PlanBuilder::source(const std::string& root, const std::string& key) {
    const uint64_t t = find_source(root, key);
    PlanNode n;
    n.kind = OpKind::Source;
    n.source_tensor = t;
    n.dtype = index_.tensors[t].info->dtype;
    n.shape = index_.tensors[t].info->shape;
    return push(std::move(n));
}

int64_t PlanBuilder::chunk(int64_t x, int64_t parts, int64_t index, int64_t dim) {
    const PlanNode& in = node(x);
    const int64_t d = normalise_dim(in, dim, "chunk");
    if (parts <= 0 || index < 0 || index >= parts)
        throw PlanOpError("chunk: piece " + std::to_string(index) + " of " + std::to_string(parts) +
                          " is out of range");
    if (in.shape[d] % parts != 0)
        throw PlanOpError("chunk: dimension " + std::to_string(d) + " of " + shape_text(in.shape) +
                          " does not split into " + std::to_string(parts) + " equal parts");
    PlanNode n;
    n.kind = OpKind::Chunk;
    n.inputs = {x};
    n.dim = d;
    n.a = parts;
    n.b = index;
    n.dtype = in.dtype;
    n.shape = in.shape;
    n.shape[d] /= parts;
    return push(std::move(n));
}

int64_t PlanBuilder::cat(const std::vector<int64_t>& xs, int64_t dim) {
    if (xs.empty()) throw PlanOpError("cat: no inputs");
    const PlanNode& first = node(xs[0]);
    const int64_t d = normalise_dim(first, dim, "cat");
    PlanNode n;
    n.kind = OpKind::Cat;
    n.inputs = xs;
    n.dim = d;
    n.dtype = first.dtype;
    n.shape = first.shape;
    n.shape[d] = 0;
    for (int64_t x : xs) {
        const PlanNode& in = node(x);
        if (in.dtype != first.dtype)
            throw PlanOpError("cat: dtypes differ (" + std::string(dtype_name(first.dtype)) + " and " +
                              std::string(dtype_name(in.dtype)) + ")");
        if (in.shape.size() != first.shape.size())
            throw PlanOpError("cat: ranks differ (" + shape_text(first.shape) + " and " + shape_text(in.shape) + ")");
        for (size_t i = 0; i < in.shape.size(); ++i)
            if (static_cast<int64_t>(i) != d && in.shape[i] != first.shape[i])
                throw PlanOpError("cat: shapes " + shape_text(first.shape) + " and " + shape_text(in.shape) +
                                  " differ outside dimension " + std::to_string(d));
        n.shape[d] += in.shape[d];
    }
    return push(std::move(n));
}

int64_t PlanBuilder::narrow(int64_t x, int64_t dim, int64_t start, int64_t length) {
    const PlanNode& in = node(x);
    const int64_t d = normalise_dim(in, dim, "narrow");
    if (start < 0 || length < 0 || start + length > in.shape[d])
        throw PlanOpError("narrow: [" + std::to_string(start) + ", " + std::to_string(start + length) +
                          ") outside dimension " + std::to_string(d) + " of " + shape_text(in.shape));
    PlanNode n;
    n.kind = OpKind::Narrow;
    n.inputs = {x};
    n.dim = d;
    n.a = start;
    n.b = length;
    n.dtype = in.dtype;
    n.shape = in.shape;
    n.shape[d] = length;
    return push(std::move(n));
}

int64_t PlanBuilder::pad(int64_t x, int64_t dim, int64_t new_size) {
    const PlanNode& in = node(x);
    const int64_t d = normalise_dim(in, dim, "pad");
    if (new_size < 0) throw PlanOpError("pad: negative size " + std::to_string(new_size));
    PlanNode n;
    n.kind = OpKind::Pad;
    n.inputs = {x};
    n.dim = d;
    n.a = new_size;
    n.dtype = in.dtype;
    n.shape = in.shape;
    n.shape[d] = new_size;
    return push(std::move(n));
}

int64_t PlanBuilder::reshape(int64_t x, const Shape& shape) {
    const PlanNode& in = node(x);
    check_shape(shape, "reshape");
    if (numel_of(shape) != numel_of(in.shape))
        throw PlanOpError("reshape: " + shape_text(in.shape) + " cannot become " + shape_text(shape));
    PlanNode n;
    n.kind = OpKind::Reshape;
    n.inputs = {x};
    n.dtype = in.dtype;
    n.shape = shape;
    return push(std::move(n));
}

int64_t PlanBuilder::permute(int64_t x, const std::vector<int64_t>& dims) {
    const PlanNode& in = node(x);
    if (dims.size() != in.shape.size())
        throw PlanOpError("permute: " + std::to_string(dims.size()) + " dims given for shape " + shape_text(in.shape));
    std::vector<int64_t> norm;
    for (int64_t d : dims) norm.push_back(normalise_dim(in, d, "permute"));
    std::vector<int64_t> sorted = norm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
        if (sorted[i] != static_cast<int64_t>(i)) throw PlanOpError("permute: dims are not a permutation");
    PlanNode n;
    n.kind = OpKind::Permute;
    n.inputs = {x};
    n.dims = norm;
    n.dtype = in.dtype;
    for (int64_t d : norm) n.shape.push_back(in.shape[static_cast<size_t>(d)]);
    return push(std::move(n));
}

int64_t PlanBuilder::cast(int64_t x, DType dtype) {
    const PlanNode& in = node(x);
    if (element_size(dtype) == 0) throw PlanOpError("cast: invalid dtype");
    PlanNode n;
    n.kind = OpKind::Cast;
    n.inputs = {x};
    n.dtype = dtype;
    n.shape = in.shape;
    return push(std::move(n));
}

int64_t PlanBuilder::zeros(const Shape& shape, DType dtype) {
    check_shape(shape, "zeros");
    if (element_size(dtype) == 0) throw PlanOpError("zeros: invalid dtype");
    PlanNode n;
    n.kind = OpKind::Zeros;
    n.dtype = dtype;
    n.shape = shape;
    return push(std::move(n));
}

int64_t PlanBuilder::constant(const Shape& shape, DType dtype, std::string bytes) {
    check_shape(shape, "constant");
    if (element_size(dtype) == 0) throw PlanOpError("constant: invalid dtype");
    const uint64_t need = static_cast<uint64_t>(numel_of(shape)) * element_size(dtype);
    if (bytes.size() != need)
        throw PlanOpError("constant: " + std::to_string(bytes.size()) + " bytes given, shape " + shape_text(shape) +
                          " needs " + std::to_string(need));
    PlanNode n;
    n.kind = OpKind::Constant;
    n.dtype = dtype;
    n.shape = shape;
    n.bytes = std::move(bytes);
    return push(std::move(n));
}

int64_t PlanBuilder::add_lora(int64_t w, int64_t a, int64_t b, double scale) {
    const PlanNode& W = node(w);
    const PlanNode& A = node(a);
    const PlanNode& B = node(b);
    const auto floating = [](DType d) { return d == DType::F16 || d == DType::BF16 || d == DType::F32; };
    if (!floating(W.dtype) || !floating(A.dtype) || !floating(B.dtype))
        throw PlanOpError("add_lora: weight and LoRA matrices must be f16, bf16 or f32");
    if (W.shape.size() != 2 || A.shape.size() != 2 || B.shape.size() != 2 || B.shape[0] != W.shape[0] ||
        A.shape[1] != W.shape[1] || B.shape[1] != A.shape[0])
        throw PlanOpError("add_lora: weight " + shape_text(W.shape) + " cannot take B " + shape_text(B.shape) +
                          " times A " + shape_text(A.shape) + " (expected B [out, r] and A [r, in])");
    if (!(scale == scale) || scale == 0 || scale > 1e6 || scale < -1e6)
        throw PlanOpError("add_lora: scale " + std::to_string(scale) + " is not a usable LoRA scale");
    PlanNode n;
    n.kind = OpKind::AddLora;
    n.inputs = {w, a, b};
    n.dtype = W.dtype;
    n.shape = W.shape;
    n.scale = scale;
    return push(std::move(n));
}

void PlanBuilder::output(const std::string& root, const std::string& key, int64_t x) {
    node(x);
    if (!outputs_.emplace(qualified_name(root, key), plan_.outputs.size()).second)
        throw PlanOpError("output '" + qualified_name(root, key) + "' is written twice");
    plan_.outputs.push_back(PlanOutput{root, key, x, std::nullopt});
}

void PlanBuilder::alias(const std::string& root, const std::string& key, const std::string& target_root,
                        const std::string& target_key) {
    auto target = outputs_.find(qualified_name(target_root, target_key));
    if (target == outputs_.end())
        throw PlanOpError("alias '" + qualified_name(root, key) + "': target output '" +
                          qualified_name(target_root, target_key) + "' does not exist yet");
    if (!outputs_.emplace(qualified_name(root, key), plan_.outputs.size()).second)
        throw PlanOpError("output '" + qualified_name(root, key) + "' is written twice");
    plan_.outputs.push_back(PlanOutput{root, key, -1, target->second});
}

void PlanBuilder::drop(const std::string& root, const std::string& key, const std::string& reason) {
    if (reason.empty()) throw PlanOpError("drop of '" + qualified_name(root, key) + "' needs a reason");
    plan_.drops.push_back(PlanDrop{find_source(root, key), reason});
}

void PlanBuilder::expect(const std::string& root, const std::string& key, const Shape& shape) {
    check_shape(shape, "expect");
    plan_.expected.push_back(PlanExpectation{root, key, shape});
}

void PlanBuilder::file(const std::string& path, std::string content) {
    if (path.empty() || path.front() == '/' || path.find("..") != std::string::npos)
        throw PlanOpError("file path '" + path + "' must be relative and stay inside the output folder");
    for (const auto& f : plan_.files)
        if (f.path == path) throw PlanOpError("file '" + path + "' is written twice");
    plan_.files.push_back(PlanFile{path, std::move(content)});
}

void PlanBuilder::value(const std::string& key, const std::string& json) {
    if (key.empty() || key.find('.') != std::string::npos)
        throw PlanOpError("value key '" + key + "' must be one top-level name");
    for (const auto& v : plan_.values)
        if (v.key == key) throw PlanOpError("value '" + key + "' is set twice");
    try {
        plan_.values.push_back(PlanValue{key, py_from_json(json)}); // what the writer could not pickle is refused now
    } catch (const std::exception& e) {
        throw PlanOpError("value '" + key + "': " + e.what());
    }
}

void PlanBuilder::target(const std::string& target_name, const std::string& component_dir) {
    plan_.target_name = target_name;
    plan_.component_dir = component_dir;
}

void PlanBuilder::keep_extras(bool keep) { plan_.keep_extras = keep; }

void PlanBuilder::metadata(const std::string& key, std::string value) {
    if (key.empty() || key == "format" || key.rfind("ckptconv.", 0) == 0 || key == "__metadata__")
        throw PlanOpError("metadata: key '" + key + "' is the host's");
    plan_.metadata[key] = std::move(value);
}

void PlanBuilder::model_root(const std::string& root) {
    for (const auto& r : index_.roots)
        if (r.path == root) {
            plan_.model_roots.push_back(root);
            return;
        }
    throw PlanOpError("model_root: the checkpoint has no root '" + root + "'");
}

} // namespace ckptconv::core
