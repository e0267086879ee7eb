#include "lora_cogvideox_sat.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace cogvideox_sat {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyPattern;

// LoraMixin wraps these two linears of every attention (lora2.py): Q|K|V as three partitions, dense as one.
const KeyPattern kOriginal("transformer.layers.{i}.attention.{linear}.original.weight");
const KeyPattern kMatrix("transformer.layers.{i}.attention.{linear}.matrix_{ab}.{k}");

int64_t parts_of(const std::string& linear) { return linear == "query_key_value" ? 3 : 1; }

/** The diffusers module a partition lands in (training-saves.md 2.5). */
std::string diffusers_module(const std::string& layer, const std::string& linear, int64_t part) {
    static const char* qkv[] = {"to_q", "to_k", "to_v"};
    return "transformer_blocks." + layer + ".attn1." + (linear == "query_key_value" ? qkv[part] : "to_out.0");
}

/** Python's repr of a float, as json.dumps writes it (1.0, 0.5, 16.0). */
std::string python_float(double x) {
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
    std::string s(buf, end);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

} // namespace

LoraLayout read_lora_layout(const SatTransformerShape& s, const ckptconv::sdk::IndexView& index,
                            const ckptconv::sdk::PlanRequest& request) {
    LoraLayout lora;
    // The weights do not hold alpha: --option lora_alpha, else the save's training_config.yaml (the host
    // reads it for kSidecars), else SAT's default 1. A run's file that says nothing usable is not an error.
    double from_run = 1.0;
    std::string run_alpha_problem;
    if (request.has_option("source.lora_alpha")) try {
            from_run = request.positive_real_option("source.lora_alpha", 1.0);
        } catch (const ckptconv::sdk::Error&) {
            run_alpha_problem = "SAT's default: the save's training_config.yaml gives lora_alpha '" +
                                request.option("source.lora_alpha") +
                                "', not a positive number; --option lora_alpha sets it";
        }
    lora.alpha = request.positive_real_option("lora_alpha", from_run);
    lora.alpha_from = request.has_option("lora_alpha")          ? "--option lora_alpha"
                      : !run_alpha_problem.empty()              ? run_alpha_problem
                      : request.has_option("source.lora_alpha") ? "the save's training_config.yaml"
                                                                : "SAT's default; no training_config.yaml beside the "
                                                                  "save says otherwise, --option lora_alpha sets it";
    const auto* root = index.root(s.root);
    auto find = [&](const std::string& key) { return index.find(s.root, s.prefix + key); };
    for (const auto* t : index.tensors_of(*root)) {
        const std::string key(t->key);
        if (!ckptconv::sdk::starts_with(key, s.prefix)) continue;
        const auto c = kOriginal.match(key.substr(s.prefix.size()));
        if (!c) continue;
        const std::string linear = (*c)["linear"];
        if (linear != "query_key_value" && linear != "dense")
            throw ckptconv::sdk::invalid_data(key + ": SAT's LoraMixin wraps only query_key_value and dense");
        const int64_t parts = parts_of(linear);
        const int64_t out = parts * s.hidden;
        if (t->shape != ckptconv::sdk::Shape{out, s.hidden})
            throw ckptconv::sdk::invalid_data(key + " has shape " + ckptconv::sdk::shape_string(t->shape) +
                                              ", expected " + ckptconv::sdk::shape_string({out, s.hidden}) +
                                              " for attention width " + std::to_string(s.hidden));
        const std::string base = "transformer.layers." + (*c)["i"] + ".attention." + linear + ".";
        for (int64_t k = 0; k < parts; ++k) {
            const std::string a_key = base + "matrix_A." + std::to_string(k);
            const std::string b_key = base + "matrix_B." + std::to_string(k);
            const auto* a = find(a_key);
            const auto* b = find(b_key);
            if (!a || !b)
                throw ckptconv::sdk::invalid_data(
                    s.prefix + (a ? b_key : a_key) + " is missing: " + linear + " has " + std::to_string(parts) +
                    (parts == 3 ? " LoRA partitions (Q, K, V)" : " LoRA partition") + " in SAT's LoraMixin");
            if (a->shape.size() != 2 || b->shape.size() != 2 || a->shape[1] != s.hidden || b->shape[0] != s.hidden ||
                b->shape[1] != a->shape[0])
                throw ckptconv::sdk::invalid_data(
                    s.prefix + base + "matrix_A/B." + std::to_string(k) + " have shapes " +
                    ckptconv::sdk::shape_string(a->shape) + " and " + ckptconv::sdk::shape_string(b->shape) +
                    ": each partition of a width-" + std::to_string(s.hidden) + " attention needs A [r, " +
                    std::to_string(s.hidden) + "] and B [" + std::to_string(s.hidden) + ", r]");
            if (lora.rank == 0) lora.rank = a->shape[0];
            if (a->shape[0] != lora.rank)
                throw ckptconv::sdk::invalid_data(s.prefix + a_key + " has rank " + std::to_string(a->shape[0]) +
                                                  ", the other LoRA matrices " + std::to_string(lora.rank));
        }
        lora.linears[base] = LoraLinear{base, parts};
    }
    // Every matrix must belong to a wrapped linear, within its partitions.
    for (const auto* t : index.tensors_of(*root)) {
        const std::string key(t->key);
        if (!ckptconv::sdk::starts_with(key, s.prefix) || key.find(".matrix_") == std::string::npos) continue;
        const auto c = kMatrix.match(key.substr(s.prefix.size()));
        const std::string base =
            c ? "transformer.layers." + (*c)["i"] + ".attention." + (*c)["linear"] + "." : std::string();
        const auto it = lora.linears.find(base);
        if (!c || it == lora.linears.end() || (*c)["k"].size() != 1 || (*c)["k"][0] < '0' ||
            (*c)["k"][0] - '0' >= it->second.parts)
            throw ckptconv::sdk::invalid_data(key + " belongs to no LoRA partition of a wrapped linear (" +
                                              "query_key_value.original.* with matrix_A/B.0-2, or dense.original.* "
                                              "with matrix_A/B.0)");
    }
    if (lora.linears.empty()) throw ckptconv::sdk::invalid_data("LoRA matrices without any .original. base weight");
    return lora;
}

void plan_lora_adapter(const SatTransformerShape& s, const LoraLayout& lora, const ckptconv::sdk::IndexView& index,
                       ckptconv::sdk::Plan& plan) {
    const std::string& R = s.root;
    plan.model_root(R);
    std::vector<std::string> modules;
    for (const auto* t : index.tensors_of(*index.root(R))) {
        const std::string key(t->key);
        if (!ckptconv::sdk::starts_with(key, s.prefix)) {
            if (ckptconv::sdk::starts_with(key, "conditioner."))
                plan.drop(R, key, "T5 text encoder of a SAT engine save: not part of the LoRA");
            else if (ckptconv::sdk::starts_with(key, "first_stage_model."))
                plan.drop(R, key, "VAE of a SAT engine save: not part of the LoRA");
            continue;
        }
        const std::string k = key.substr(s.prefix.size());
        if (kMatrix.match(k)) {
            continue; // emitted below, in diffusers' order: layer, module, A then B
        } else if (k.find(".original.") != std::string::npos) {
            plan.drop(R, key,
                      "base weight under the LoRA: the adapter applies to the released base model "
                      "(--option lora=merge writes merged weights)");
        } else {
            plan.drop(R, key, "base model weight: a LoRA adapter holds only the LoRA matrices");
        }
    }
    std::vector<std::pair<int64_t, std::string>> order; // (layer, base), layers numerically
    for (const auto& [base, linear] : lora.linears) {
        const auto c = KeyPattern("transformer.layers.{i}.attention.{linear}.").match(base);
        order.emplace_back(std::stoll((*c)["i"]), base);
    }
    std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first < y.first : x.second > y.second; // query_key_value before dense
    });
    for (const auto& [layer, base] : order) {
        const LoraLinear& linear = lora.linears.at(base);
        const std::string name = base.find("query_key_value") != std::string::npos ? "query_key_value" : "dense";
        for (int64_t k = 0; k < linear.parts; ++k) {
            const std::string module = diffusers_module(std::to_string(layer), name, k);
            modules.push_back(module);
            for (const char* ab : {"A", "B"})
                plan.output("", "transformer." + module + ".lora_" + ab + ".weight",
                            plan.source(R, s.prefix + base + "matrix_" + ab + "." + std::to_string(k)));
        }
    }
    // diffusers >= 0.34 reads the LoraConfig from here (lora_base.py write_lora_layers); json.dumps(indent=2,
    // sort_keys=True) of the component-prefixed fields.
    std::sort(modules.begin(), modules.end());
    std::string targets;
    for (const auto& m : modules) targets += std::string(targets.empty() ? "" : ",") + "\n    \"" + m + "\"";
    plan.metadata("lora_adapter_metadata", "{\n  \"transformer.lora_alpha\": " + python_float(lora.alpha) +
                                               ",\n  \"transformer.r\": " + std::to_string(lora.rank) +
                                               ",\n  \"transformer.target_modules\": [" + targets + "\n  ]\n}");
    plan.note("LoRA adapter: rank " + std::to_string(lora.rank) + ", alpha " + python_float(lora.alpha) + " (" +
              lora.alpha_from + "), scale alpha/r = " + python_float(lora.scale()) +
              ". diffusers >= 0.34 reads it from lora_adapter_metadata; older diffusers loads at scale 1, so call "
              "pipe.set_adapters([name], [" +
              python_float(lora.scale()) + "]) or fuse_lora(lora_scale=" + python_float(lora.scale()) + ")");
    plan.target("diffusers_lora", "");
    plan.keep_extras(false);
}

Expr merged(const LoraLayout& lora, const SatTransformerShape& s, const std::string& key, Expr x, int64_t part,
            ckptconv::sdk::Plan& plan) {
    if (!ckptconv::sdk::ends_with(key, ".weight")) return x;
    const auto it = lora.linears.find(key.substr(0, key.size() - std::string("weight").size()));
    if (it == lora.linears.end()) return x;
    const std::string k = std::to_string(part);
    return plan.add_lora(x, plan.source(s.root, s.prefix + it->first + "matrix_A." + k),
                         plan.source(s.root, s.prefix + it->first + "matrix_B." + k), lora.scale());
}

} // namespace cogvideox_sat
