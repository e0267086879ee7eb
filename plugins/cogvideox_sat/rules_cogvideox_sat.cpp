#include "rules_cogvideox_sat.hpp"

#include "lora_cogvideox_sat.hpp"

#include <cogvideox_family/model_values.hpp>

#include <map>
#include <optional>

namespace cogvideox_sat {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::RenameTable;
using ckptconv::sdk::Shape;

constexpr VersionRules kRules[] = {
    {"1.0", true, 0, 49, 60, 90, false},
    // 1.5: temporal patch 2, Linear patch embed; sample size 300 caps the RoPE grid (finetrainers#121).
    {"1.5", false, 2, 81, 300, 300, true},
};

// The diffusers conversion script's ordered substring renames (cogvideox.md 4.2). Order matters.
const RenameTable& rename_table() {
    static const RenameTable table = [] {
        RenameTable t;
        t.replace("transformer.final_layernorm", "norm_final")
            .replace("transformer", "transformer_blocks")
            .replace("attention", "attn1")
            .replace("mlp", "ff.net")
            .replace("dense_h_to_4h", "0.proj")
            .replace("dense_4h_to_h", "2")
            .replace(".layers", "")
            .replace("dense", "to_out.0")
            .replace("input_layernorm", "norm1.norm")
            .replace("post_attn1_layernorm", "norm2.norm")
            .replace("time_embed.0", "time_embedding.linear_1")
            .replace("time_embed.2", "time_embedding.linear_2")
            .replace("ofs_embed.0", "ofs_embedding.linear_1")
            .replace("ofs_embed.2", "ofs_embedding.linear_2")
            .replace("mixins.patch_embed", "patch_embed")
            .replace("mixins.final_layer.norm_final", "norm_out.norm")
            .replace("mixins.final_layer.linear", "proj_out")
            .replace("mixins.final_layer.adaLN_modulation.1", "norm_out.linear")
            .replace("mixins.pos_embed.pos_embedding", "patch_embed.pos_embedding");
        return t;
    }();
    return table;
}

// RoPE is not stored in the weights; infer it (cogvideox.md 8): 1.5 always; 1.0 when the RoPE tables
// are present or for the learned-table I2V model; never for the 2B width or a fixed sin-cos table.
bool uses_rotary(const SatTransformerShape& s, bool has_freqs) {
    if (s.version == "1.5" || has_freqs) return true;
    if (s.learned_pos_embedding) return s.in_channels == 2 * 16;
    return s.hidden != 1920;
}

} // namespace

const VersionRules* rules_for(const std::string& format_version) {
    for (const auto& r : kRules)
        if (format_version == r.version) return &r;
    return nullptr;
}

std::vector<std::pair<std::string, Shape>> diffusers_transformer_keys(const SatTransformerShape& s, bool learned_pos) {
    const int64_t D = s.hidden;
    const int64_t T = s.time_embed_dim;
    std::vector<std::pair<std::string, Shape>> k;
    auto lin = [&](const std::string& name, int64_t out, int64_t in) {
        k.push_back({name + ".weight", {out, in}});
        k.push_back({name + ".bias", {out}});
    };
    if (learned_pos) k.push_back({"patch_embed.pos_embedding", s.pos_embedding_shape});
    if (s.version == "1.0")
        k.push_back({"patch_embed.proj.weight", {D, s.in_channels, 2, 2}});
    else
        k.push_back({"patch_embed.proj.weight", {D, s.in_channels * 8}});
    k.push_back({"patch_embed.proj.bias", {D}});
    lin("patch_embed.text_proj", D, s.text_dim);
    lin("time_embedding.linear_1", T, D);
    lin("time_embedding.linear_2", T, T);
    if (s.ofs_embedding) {
        lin("ofs_embedding.linear_1", s.ofs_dim, s.ofs_dim);
        lin("ofs_embedding.linear_2", s.ofs_dim, s.ofs_dim);
    }
    for (int64_t i = 0; i < s.layers; ++i) {
        const std::string b = "transformer_blocks." + std::to_string(i) + ".";
        lin(b + "norm1.linear", 6 * D, T);
        k.push_back({b + "norm1.norm.weight", {D}});
        k.push_back({b + "norm1.norm.bias", {D}});
        k.push_back({b + "attn1.norm_q.weight", {s.head_dim}});
        k.push_back({b + "attn1.norm_q.bias", {s.head_dim}});
        k.push_back({b + "attn1.norm_k.weight", {s.head_dim}});
        k.push_back({b + "attn1.norm_k.bias", {s.head_dim}});
        lin(b + "attn1.to_q", D, D);
        lin(b + "attn1.to_k", D, D);
        lin(b + "attn1.to_v", D, D);
        lin(b + "attn1.to_out.0", D, D);
        lin(b + "norm2.linear", 6 * D, T);
        k.push_back({b + "norm2.norm.weight", {D}});
        k.push_back({b + "norm2.norm.bias", {D}});
        lin(b + "ff.net.0.proj", 4 * D, D);
        lin(b + "ff.net.2", D, 4 * D);
    }
    k.push_back({"norm_final.weight", {D}});
    k.push_back({"norm_final.bias", {D}});
    lin("norm_out.linear", 2 * D, T);
    k.push_back({"norm_out.norm.weight", {D}});
    k.push_back({"norm_out.norm.bias", {D}});
    lin("proj_out", s.out_dim, D);
    return k;
}

std::string diffusers_transformer_config(const SatTransformerShape& s, const VersionRules& r, bool learned_pos,
                                         bool rotary) {
    const int64_t patch_volume = 2 * 2 * (r.patch_size_t ? r.patch_size_t : 1);
    return ckptconv::sdk::json_object({
        {"_class_name", "\"CogVideoXTransformer3DModel\""},
        {"_diffusers_version", "\"0.32.0\""},
        {"activation_fn", "\"gelu-approximate\""},
        {"attention_bias", "true"},
        {"attention_head_dim", std::to_string(s.head_dim)},
        {"dropout", "0.0"},
        {"flip_sin_to_cos", "true"},
        {"freq_shift", "0"},
        {"in_channels", std::to_string(s.in_channels)},
        {"max_text_seq_length", "226"},
        {"norm_elementwise_affine", "true"},
        {"norm_eps", "1e-05"},
        {"num_attention_heads", std::to_string(s.heads)},
        {"num_layers", std::to_string(s.layers)},
        {"ofs_embed_dim", s.ofs_embedding ? std::to_string(s.ofs_dim) : "null"},
        {"out_channels", std::to_string(s.out_dim / patch_volume)},
        {"patch_bias", r.patch_bias ? "true" : "false"},
        {"patch_size", "2"},
        {"patch_size_t", r.patch_size_t ? std::to_string(r.patch_size_t) : "null"},
        {"sample_frames", std::to_string(r.sample_frames)},
        {"sample_height", std::to_string(r.sample_height)},
        {"sample_width", std::to_string(r.sample_width)},
        {"spatial_interpolation_scale", "1.875"},
        {"temporal_compression_ratio", "4"},
        {"temporal_interpolation_scale", "1.0"},
        {"text_embed_dim", std::to_string(s.text_dim)},
        {"time_embed_dim", std::to_string(s.time_embed_dim)},
        {"timestep_activation_fn", "\"silu\""},
        {"use_learned_positional_embeddings", learned_pos ? "true" : "false"},
        {"use_rotary_positional_embeddings", rotary ? "true" : "false"},
    });
}

void plan_cogvideox_sat(const SatTransformerShape& s, const ckptconv::sdk::IndexView& index,
                        const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    const VersionRules* rules = rules_for(request.format_version);
    if (!rules)
        throw ckptconv::sdk::unsupported("no rules for format version '" + request.format_version +
                                         "' (known: 1.0, 1.5)");
    if (s.version != rules->version)
        throw ckptconv::sdk::invalid_data(
            "format version " + request.format_version + " was forced, but the patch embedding " + "has the " +
            s.version + " layout; the weights cannot be converted with " + request.format_version + " rules");
    if (!s.lora && request.has_option("lora"))
        throw ckptconv::sdk::invalid_data("--option lora=" + request.option("lora") +
                                          ": this is a plain SAT transformer, not a SAT LoRA fine-tune (no "
                                          ".original. base weights with matrix_A/matrix_B)");
    std::optional<LoraLayout> lora;
    if (s.lora) {
        lora = read_lora_layout(s, index, request);
        if (request.one_of("lora", "adapter", {"adapter", "merge"}) == "adapter") {
            plan_lora_adapter(s, *lora, index, plan);
            return;
        }
        plan.note("LoRA merged into the base weights: W + (alpha/r)·B·A with alpha " + std::to_string(lora->alpha) +
                  " (" + lora->alpha_from + "), r " + std::to_string(lora->rank) +
                  " (SAT's merge_linear_lora: the update in fp32, rounded to the weight dtype, then added)");
    }
    if (s.ofs_embedding && !rules->ofs_embedding_allowed)
        throw ckptconv::sdk::invalid_data(
            "ofs_embed weights found in a 1.0 checkpoint; 1.0 models have no ofs embedding");

    const auto* root = index.root(s.root);
    const std::string& R = s.root;
    bool has_freqs = false;
    for (const auto* t : index.tensors_of(*root))
        if (t->key.find("freqs_sin") != std::string_view::npos) has_freqs = true;
    // The learned table is the 5B-I2V's (1.0, 32 in-channels); a 2B fine-tune's fixed sin-cos table is recomputed.
    // diffusers persists the table only when it is learned, so under its names a stored table is one.
    const bool learned_pos =
        s.learned_pos_embedding && (s.diffusers_names || (s.version == "1.0" && s.in_channels == 32));
    bool rotary = uses_rotary(s, has_freqs);
    if (request.has_option("variant")) { // the release table decides, not the guess from widths
        const std::string variant = request.option("variant");
        const cogvideox_family::ModelValues* values = cogvideox_family::model_values(variant);
        if (!values)
            throw ckptconv::sdk::invalid_data("unknown variant '" + variant +
                                              "': " + cogvideox_family::model_value_choices());
        if (has_freqs && !values->rotary)
            throw ckptconv::sdk::invalid_data("--option variant=" + variant +
                                              " is a sin-cos model, but the checkpoint stores RoPE tables (freqs_sin)");
        rotary = values->rotary;
        plan.note(std::string("use_rotary_positional_embeddings: ") + (rotary ? "true" : "false") +
                  " from --option variant=" + variant + " (release table)");
    }

    const KeyPattern qkv("transformer.layers.{i}.attention.query_key_value.{wb}");
    const KeyPattern q_norm("mixins.adaln_layer.query_layernorm_list.{i}.{wb}");
    const KeyPattern k_norm("mixins.adaln_layer.key_layernorm_list.{i}.{wb}");
    const KeyPattern adaln("mixins.adaln_layer.adaLN_modulations.{i}.1.{wb}");

    std::map<std::string, Expr> outputs;
    plan.model_root(R); // the rest of a SAT engine save is training state
    for (const auto* t : index.tensors_of(*root)) {
        const std::string key(t->key);
        if (!ckptconv::sdk::starts_with(key, s.prefix)) {
            if (ckptconv::sdk::starts_with(key, "conditioner."))
                plan.drop(R, key, "T5 text encoder of a SAT fine-tune dump: not part of the transformer");
            else if (ckptconv::sdk::starts_with(key, "first_stage_model."))
                plan.drop(R, key, "VAE of a SAT fine-tune dump: convert it with cogvideox_vae");
            continue; // anything else stays unmapped, and the plan check names it
        }
        std::string k = key.substr(s.prefix.size());
        if (lora) { // matrices go into their base weights; the base weights take their plain names
            if (k.find(".matrix_") != std::string::npos) continue;
            if (const size_t at = k.find(".original."); at != std::string::npos) k.erase(at, 9);
        }
        Expr x = plan.source(R, key);
        if (s.diffusers_names) { // the names are already the target's: the weights pass through unchanged
            outputs[k] = x;
            continue;
        }
        auto piece = [&](int64_t part) {
            const Expr p = plan.chunk(x, 3, part);
            return lora ? merged(*lora, s, k, p, part, plan) : p;
        };
        if (auto c = qkv.match(k)) {
            const std::string b = "transformer_blocks." + (*c)["i"] + ".attn1.to_";
            outputs[b + "q." + (*c)["wb"]] = piece(0);
            outputs[b + "k." + (*c)["wb"]] = piece(1);
            outputs[b + "v." + (*c)["wb"]] = piece(2);
        } else if (auto qn = q_norm.match(k)) {
            outputs["transformer_blocks." + (*qn)["i"] + ".attn1.norm_q." + (*qn)["wb"]] = x;
        } else if (auto kn = k_norm.match(k)) {
            outputs["transformer_blocks." + (*kn)["i"] + ".attn1.norm_k." + (*kn)["wb"]] = x;
        } else if (auto a = adaln.match(k)) {
            // 12 chunks of D: norm1 takes (shift, scale, gate) of the video and text streams for attention,
            // norm2 the same for the MLP (cogvideox.md 4.3).
            const std::string b = "transformer_blocks." + (*a)["i"] + ".";
            auto pick = [&](std::initializer_list<int> ids) {
                std::vector<Expr> parts;
                for (int id : ids) parts.push_back(plan.chunk(x, 12, id));
                return plan.cat(parts);
            };
            outputs[b + "norm1.linear." + (*a)["wb"]] = pick({0, 1, 2, 6, 7, 8});
            outputs[b + "norm2.linear." + (*a)["wb"]] = pick({3, 4, 5, 9, 10, 11});
        } else if (k.find("embed_tokens") != std::string::npos) {
            plan.drop(R, key, "embed_tokens has no slot in the diffusers transformer");
        } else if (k.find("freqs_sin") != std::string::npos || k.find("freqs_cos") != std::string::npos) {
            plan.drop(R, key, "RoPE table: diffusers recomputes it");
        } else if (k.find("position_embedding") != std::string::npos) {
            plan.drop(R, key, "unused nn.Embedding(64) position table of the SAT transformer");
        } else if (k == "mixins.pos_embed.pos_embedding" && !learned_pos) {
            plan.drop(R, key, "fixed sin-cos position table: diffusers builds it itself");
        } else {
            outputs[rename_table().apply(k)] = lora ? merged(*lora, s, k, x, 0, plan) : x;
        }
    }

    ckptconv::sdk::emit_in_target_order(plan, "", diffusers_transformer_keys(s, learned_pos), std::move(outputs));

    if (s.diffusers_names)
        plan.note("already under diffusers names: the weights are written unchanged, config.json is derived from "
                  "their shapes");
    plan.target("diffusers", "transformer");
    plan.file("transformer/config.json", diffusers_transformer_config(s, *rules, learned_pos, rotary));
    plan.keep_extras(false);
}

} // namespace cogvideox_sat
