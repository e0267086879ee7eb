#include "core/report/ConversionReport.hpp"

#include "core/plan/PlanChecker.hpp"

#include <map>

namespace ckptconv::core {
namespace {

std::string source_name(const CheckpointIndex& index, uint64_t t) {
    return qualified_name(index.roots[index.tensors[t].root].path, index.tensors[t].key);
}

std::string output_name(const PlanOutput& o) { return qualified_name(o.root, o.key); }

std::string expr_text(const CheckpointIndex& index, const Plan& plan, int64_t expr) {
    const PlanNode& n = plan.nodes.at(static_cast<size_t>(expr));
    auto in = [&](size_t i) { return expr_text(index, plan, n.inputs.at(i)); };
    switch (n.kind) {
    case OpKind::Source: return source_name(index, n.source_tensor);
    case OpKind::Chunk:
        return "chunk(" + in(0) + ", " + std::to_string(n.b) + "/" + std::to_string(n.a) + ", dim " +
               std::to_string(n.dim) + ")";
    case OpKind::Cat: {
        std::string s = "cat(";
        for (size_t i = 0; i < n.inputs.size(); ++i) s += (i ? ", " : "") + in(i);
        return s + ", dim " + std::to_string(n.dim) + ")";
    }
    case OpKind::Narrow:
        return "narrow(" + in(0) + ", dim " + std::to_string(n.dim) + ", " + std::to_string(n.a) + "+" +
               std::to_string(n.b) + ")";
    case OpKind::Pad: return "pad(" + in(0) + ", dim " + std::to_string(n.dim) + " to " + std::to_string(n.a) + ")";
    case OpKind::Reshape: return "reshape(" + in(0) + ", " + shape_text(n.shape) + ")";
    case OpKind::Permute: return "permute(" + in(0) + ", " + shape_text(n.dims) + ")";
    case OpKind::Cast: return "cast(" + in(0) + ", " + std::string(dtype_name(n.dtype)) + ")";
    case OpKind::Zeros: return "zeros(" + shape_text(n.shape) + ", " + std::string(dtype_name(n.dtype)) + ")";
    case OpKind::Constant: return "constant(" + shape_text(n.shape) + ", " + std::string(dtype_name(n.dtype)) + ")";
    case OpKind::AddLora:
        return "add_lora(" + in(0) + ", " + in(1) + ", " + in(2) + ", scale " + std::to_string(n.scale) + ")";
    }
    return "?";
}

} // namespace

std::vector<RootReport> count_roots(const CheckpointIndex& index, const Plan& plan, size_t samples) {
    std::vector<RootReport> rows(index.roots.size());
    for (size_t r = 0; r < rows.size(); ++r) {
        rows[r].name = index.roots[r].path;
        rows[r].total_in = index.roots[r].tensor_count;
    }
    if (rows.empty()) rows.emplace_back();
    std::vector<uint32_t> feeds(index.tensors.size(), 0);
    for (const auto& o : plan.outputs) {
        const int64_t expr = o.alias_of ? plan.outputs[*o.alias_of].expr : o.expr;
        const auto sources = sources_of(plan, expr);
        for (uint64_t s : sources) ++feeds[s];
        RootReport& row = sources.empty() ? rows.front() : rows[index.tensors[sources.front()].root];
        ++row.total_out;
        if (sources.empty()) {
            ++row.created;
        } else if (sources.size() > 1) {
            ++row.fused;
        } else if (plan.nodes[static_cast<size_t>(expr)].kind == OpKind::Source ||
                   (plan.nodes[static_cast<size_t>(expr)].kind == OpKind::Cast &&
                    plan.nodes[static_cast<size_t>(plan.nodes[static_cast<size_t>(expr)].inputs[0])].kind ==
                        OpKind::Source)) {
            ++row.kept;
            const auto& src = index.tensors[sources.front()];
            if (src.key != o.key) { // moving between roots alone is not a rename
                ++row.renamed;
                if (row.renamed_samples.size() < samples) row.renamed_samples.emplace_back(src.key, o.key);
            }
        }
    }
    for (size_t t = 0; t < index.tensors.size(); ++t)
        if (feeds[t] > 1) ++rows[index.tensors[t].root].split;
    for (const auto& d : plan.drops) {
        RootReport& row = rows[index.tensors[d.source_tensor].root];
        ++row.dropped;
        if (row.dropped_samples.size() < samples)
            row.dropped_samples.emplace_back(index.tensors[d.source_tensor].key, d.reason);
    }
    return rows;
}

std::string report_text(const ConversionReport& r) {
    std::string s = "input:  " + r.input + "\noutput: " + r.output +
                    "\nplugin: " + (r.plugin.empty() ? "none" : r.plugin + "@" + r.plugin_version);
    if (!r.format_version.empty()) s += "  format " + r.format_version;
    if (!r.variant.empty()) s += "  variant " + r.variant;
    if (!r.target.empty()) s += "  -> " + r.target;
    s += "\n";
    for (const auto& root : r.roots) {
        s += "[" + (root.name.empty() ? std::string("<top>") : root.name) +
             "] total_in=" + std::to_string(root.total_in) + " total_out=" + std::to_string(root.total_out) +
             " kept=" + std::to_string(root.kept) + " dropped=" + std::to_string(root.dropped) +
             " renamed=" + std::to_string(root.renamed) + " split=" + std::to_string(root.split) +
             " fused=" + std::to_string(root.fused) + " created=" + std::to_string(root.created) + "\n";
        for (const auto& [from, to] : root.renamed_samples) s += "  renamed: " + from + " -> " + to + "\n";
        for (const auto& [key, why] : root.dropped_samples) s += "  dropped: " + key + " (" + why + ")\n";
    }
    for (const auto& f : r.files)
        s += "wrote " + f.path.string() + " (" + std::to_string(f.tensors) + " tensors, " + std::to_string(f.bytes) +
             " bytes)\n";
    for (const auto& n : r.notes) s += "note: " + n + "\n";
    std::map<std::string, std::string> by_category; // category -> "a, b"
    for (const auto& [name, category] : r.training_state)
        by_category[category] += (by_category[category].empty() ? "" : ", ") + name;
    for (const auto& [category, names] : by_category)
        s += "training state left out (" + category + "): " + names + "\n";
    return s;
}

nlohmann::ordered_json report_json(const ConversionReport& r) {
    nlohmann::ordered_json j;
    j["input"] = r.input;
    j["output"] = r.output;
    j["plugin"] = r.plugin.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.plugin);
    j["plugin_version"] = r.plugin_version;
    j["format_version"] = r.format_version;
    j["variant"] = r.variant;
    j["target"] = r.target;
    j["roots"] = nlohmann::ordered_json::array();
    for (const auto& root : r.roots) {
        nlohmann::ordered_json x;
        x["name"] = root.name;
        x["total_in"] = root.total_in;
        x["total_out"] = root.total_out;
        x["kept"] = root.kept;
        x["renamed"] = root.renamed;
        x["dropped"] = root.dropped;
        x["split"] = root.split;
        x["fused"] = root.fused;
        x["created"] = root.created;
        x["renamed_samples"] = nlohmann::ordered_json::array();
        for (const auto& [from, to] : root.renamed_samples) x["renamed_samples"].push_back({from, to});
        x["dropped_samples"] = nlohmann::ordered_json::array();
        for (const auto& [key, why] : root.dropped_samples) x["dropped_samples"].push_back({key, why});
        j["roots"].push_back(x);
    }
    j["files"] = nlohmann::ordered_json::array();
    for (const auto& f : r.files)
        j["files"].push_back({{"path", f.path.string()}, {"tensors", f.tensors}, {"bytes", f.bytes}});
    if (!r.notes.empty()) j["notes"] = r.notes;
    if (!r.training_state.empty()) {
        j["training_state"] = nlohmann::ordered_json::object();
        for (const auto& [name, category] : r.training_state) j["training_state"][category].push_back(name);
    }
    return j;
}

std::string plan_text(const CheckpointIndex& index, const Plan& plan) {
    std::string s;
    for (const auto& o : plan.outputs) {
        if (o.alias_of)
            s += "alias " + output_name(plan.outputs[*o.alias_of]) + " -> " + output_name(o) + "\n";
        else
            s += expr_text(index, plan, o.expr) + " -> " + output_name(o) + " " +
                 shape_text(plan.nodes[static_cast<size_t>(o.expr)].shape) + "\n";
    }
    for (const auto& d : plan.drops) s += "drop " + source_name(index, d.source_tensor) + " (" + d.reason + ")\n";
    for (const auto& f : plan.files) s += "file " + f.path + " (" + std::to_string(f.content.size()) + " bytes)\n";
    return s;
}

} // namespace ckptconv::core
