// acme_lm: a made-up family, the example a third-party plugin starts from.
//
// Acme's trainer saves {"model": state_dict, "step": N, "config": {...}}. Trainer 1.x fuses the
// attention input projection (blocks.{i}.attn.qkv, rows q|k|v); 2.x stores attn.q/k/v apart.
// Both convert to the Hugging Face-style layout Acme's inference code loads with
// load_state_dict(strict=True), as one safetensors file.
#include "detect_acme_lm.hpp"

#include <ckptconv/sdk.hpp>

#include <map>
#include <vector>

namespace acme_lm {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyMap;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::Plan;
using ckptconv::sdk::PlanRequest;
using ckptconv::sdk::TargetKey;

// Renames both format versions share: Acme name -> target name.
const KeyMap& common_names() {
    static const KeyMap map{
        {"tok_emb.weight", "model.embed_tokens.weight"},
        {"pos_emb", "model.embed_positions.weight"},
        {"blocks.{i}.ln1.{wb}", "model.layers.{i}.input_layernorm.{wb}"},
        {"blocks.{i}.attn.proj.{wb}", "model.layers.{i}.self_attn.o_proj.{wb}"},
        {"blocks.{i}.ln2.{wb}", "model.layers.{i}.post_attention_layernorm.{wb}"},
        {"blocks.{i}.mlp.fc1.{wb}", "model.layers.{i}.mlp.fc1.{wb}"},
        {"blocks.{i}.mlp.fc2.{wb}", "model.layers.{i}.mlp.fc2.{wb}"},
        {"ln_f.{wb}", "model.norm.{wb}"},
        {"head.weight", "lm_head.weight"},
    };
    return map;
}

// Format version 2 only: separate projections are a rename too.
const KeyMap& separate_attention_names() {
    static const KeyMap map{
        {"blocks.{i}.attn.q.{wb}", "model.layers.{i}.self_attn.q_proj.{wb}"},
        {"blocks.{i}.attn.k.{wb}", "model.layers.{i}.self_attn.k_proj.{wb}"},
        {"blocks.{i}.attn.v.{wb}", "model.layers.{i}.self_attn.v_proj.{wb}"},
    };
    return map;
}

/** The target's state_dict(), in its order: what load_state_dict(strict=True) expects. */
std::vector<TargetKey> target_spec(const AcmeLayout& m) {
    const int64_t d = m.width;
    std::vector<TargetKey> spec{{"model.embed_tokens.weight", {m.vocab, d}},
                                {"model.embed_positions.weight", {m.positions, d}}};
    for (int64_t i = 0; i < m.layers; ++i) {
        const std::string l = "model.layers." + std::to_string(i) + ".";
        spec.push_back({l + "input_layernorm.weight", {d}});
        spec.push_back({l + "input_layernorm.bias", {d}});
        for (const char* p : {"q", "k", "v", "o"}) {
            spec.push_back({l + "self_attn." + p + "_proj.weight", {d, d}});
            spec.push_back({l + "self_attn." + p + "_proj.bias", {d}});
        }
        spec.push_back({l + "post_attention_layernorm.weight", {d}});
        spec.push_back({l + "post_attention_layernorm.bias", {d}});
        spec.push_back({l + "mlp.fc1.weight", {4 * d, d}});
        spec.push_back({l + "mlp.fc1.bias", {4 * d}});
        spec.push_back({l + "mlp.fc2.weight", {d, 4 * d}});
        spec.push_back({l + "mlp.fc2.bias", {d}});
    }
    spec.push_back({"model.norm.weight", {d}});
    spec.push_back({"model.norm.bias", {d}});
    spec.push_back({"lm_head.weight", {m.vocab, d}});
    return spec;
}

} // namespace

struct AcmeLmPlugin {
    static constexpr const char* kId = "acme_lm";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "Acme LM training saves (trainer 1.x fused qkv, 2.x) -> HF-style";
    static constexpr const char* kFormatVersions[] = {"1", "2", nullptr};

    ckptconv::sdk::Detection detect(const IndexView& index) const { return detect_acme_lm(index); }

    void plan(const IndexView& index, const PlanRequest& request, Plan& plan) const {
        const auto layout = find_acme_layout(index);
        if (!layout) throw ckptconv::sdk::Error(CKPTCONV_E_INVALID_DATA, "not an Acme LM checkpoint");
        // The detected format version, or one of kFormatVersions the user forced with --format-version;
        // empty when detection scored 50: the model is Acme's but its attention is neither version's.
        const std::string version = request.format_version;
        if (version.empty()) {
            const std::string d = std::to_string(layout->width);
            throw ckptconv::sdk::Error(CKPTCONV_E_UNSUPPORTED,
                                       "blocks.0.attn in '" + layout->root + "' has neither attn.qkv.weight [" +
                                           std::to_string(3 * layout->width) + ", " + d +
                                           "] (format 1) nor attn.q/k/v.weight [" + d + ", " + d + "] (format 2)");
        }
        const KeyPattern fused("blocks.{i}.attn.qkv.{wb}");
        const KeyPattern mask("blocks.{i}.attn.mask");

        std::map<std::string, Expr> outputs;
        int64_t fused_split = 0;
        for (const auto* t : index.tensors_of(*index.root(layout->root))) {
            const std::string key(t->key);
            if (auto name = common_names().forward(key)) {
                outputs[*name] = plan.source(layout->root, key);
            } else if (auto caps = fused.match(key); caps && version == "1") {
                // Rows are q|k|v: three equal chunks along dim 0, for the weight and the bias alike.
                const Expr qkv = plan.source(layout->root, key);
                const std::string l = "model.layers." + (*caps)["i"] + ".self_attn.";
                for (int64_t part = 0; part < 3; ++part)
                    outputs[l + "qkv"[part] + "_proj." + (*caps)["wb"]] = plan.chunk(qkv, 3, part);
                fused_split += (*caps)["wb"] == "weight";
            } else if (auto name2 = separate_attention_names().forward(key); name2 && version == "2") {
                outputs[*name2] = plan.source(layout->root, key);
            } else if (mask.match(key)) {
                plan.drop(layout->root, key, "causal mask buffer: the target builds it at load time");
            }
            // Anything else stays unmapped and the host refuses the plan, naming the key.
        }
        ckptconv::sdk::emit_in_target_order(plan, "", target_spec(*layout), std::move(outputs));
        plan.target("acme_hf");
        if (fused_split > 0)
            plan.note("split " + std::to_string(fused_split) + " fused attn.qkv projections into q/k/v_proj");
    }
};

} // namespace acme_lm

CKPTCONV_PLUGIN(acme_lm::AcmeLmPlugin, acme_lm)
