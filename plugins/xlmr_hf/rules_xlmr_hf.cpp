#include "rules_xlmr_hf.hpp"

#include <fairseq_family/ema.hpp>
#include <fairseq_family/envelope.hpp>

#include <map>

namespace xlmr_hf {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyMap;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::TargetKey;

constexpr const char* kEmbed = "encoder.sentence_encoder.embed_tokens.weight";
constexpr const char* kHfEmbed = "roberta.embeddings.word_embeddings.weight";

// HF name (with roberta.) <-> upgraded fairseq name.
const KeyMap& names() {
    static const KeyMap map{
        {"roberta.embeddings.word_embeddings.weight", "encoder.sentence_encoder.embed_tokens.weight"},
        {"roberta.embeddings.position_embeddings.weight", "encoder.sentence_encoder.embed_positions.weight"},
        {"roberta.embeddings.LayerNorm.{wb}", "encoder.sentence_encoder.layernorm_embedding.{wb}"},
        {"roberta.encoder.layer.{i}.attention.self.query.{wb}",
         "encoder.sentence_encoder.layers.{i}.self_attn.q_proj.{wb}"},
        {"roberta.encoder.layer.{i}.attention.self.key.{wb}",
         "encoder.sentence_encoder.layers.{i}.self_attn.k_proj.{wb}"},
        {"roberta.encoder.layer.{i}.attention.self.value.{wb}",
         "encoder.sentence_encoder.layers.{i}.self_attn.v_proj.{wb}"},
        {"roberta.encoder.layer.{i}.attention.output.dense.{wb}",
         "encoder.sentence_encoder.layers.{i}.self_attn.out_proj.{wb}"},
        {"roberta.encoder.layer.{i}.attention.output.LayerNorm.{wb}",
         "encoder.sentence_encoder.layers.{i}.self_attn_layer_norm.{wb}"},
        {"roberta.encoder.layer.{i}.intermediate.dense.{wb}", "encoder.sentence_encoder.layers.{i}.fc1.{wb}"},
        {"roberta.encoder.layer.{i}.output.dense.{wb}", "encoder.sentence_encoder.layers.{i}.fc2.{wb}"},
        {"roberta.encoder.layer.{i}.output.LayerNorm.{wb}",
         "encoder.sentence_encoder.layers.{i}.final_layer_norm.{wb}"},
        {"lm_head.dense.{wb}", "encoder.lm_head.dense.{wb}"},
        {"lm_head.layer_norm.{wb}", "encoder.lm_head.layer_norm.{wb}"},
        {"lm_head.decoder.weight", "encoder.lm_head.weight"},
        {"lm_head.bias", "encoder.lm_head.bias"},
    };
    return map;
}

/** A fairseq key under its upgraded name: what RobertaModel.upgrade_state_dict_named does to 2019 files. */
std::string upgraded(const XlmrShape& s, const std::string& key) {
    std::string k =
        s.prefix == "decoder." && ckptconv::sdk::starts_with(key, "decoder.") ? "encoder." + key.substr(8) : key;
    if (const size_t at = k.find(".emb_layer_norm."); at != std::string::npos)
        k.replace(at, 16, ".layernorm_embedding.");
    return k;
}

/** Why an HF key has no fairseq counterpart. */
std::string hf_only(const std::string& key) {
    if (key.find("embeddings.position_ids") != std::string::npos) return "position_ids: an arange buffer, not a weight";
    if (key.find("embeddings.token_type_embeddings") != std::string::npos)
        return "fairseq's RoBERTa has no segment embedding (HF's single row is zeros in converted models)";
    if (key.find("pooler.") != std::string::npos)
        return "pooler: fairseq's RobertaModel has none (nor does HF's MaskedLM)";
    if (key == "lm_head.decoder.bias") return "tied to lm_head.bias";
    return {};
}

void linear(std::vector<TargetKey>& k, const std::string& name, int64_t out, int64_t in) {
    k.push_back({name + ".weight", {out, in}});
    k.push_back({name + ".bias", {out}});
}

void norm(std::vector<TargetKey>& k, const std::string& name, int64_t D) {
    k.push_back({name + ".weight", {D}});
    k.push_back({name + ".bias", {D}});
}

// Attention heads by the shared rule: the release table (base 12, large 16) for a released size.
int64_t attention_heads(const XlmrShape& s, const ckptconv::sdk::PlanRequest& request) {
    const bool release =
        ckptconv::sdk::starts_with(s.variant, "xlmr") || ckptconv::sdk::starts_with(s.variant, "roberta");
    const int64_t preset = release ? (s.hidden == 1024 && s.layers == 24 ? 16 : 12) : 0;
    return ckptconv::sdk::attention_heads(request, preset, s.hidden, s.variant);
}

// The envelope of a released RoBERTa / XLM-R model.pt (target-loaders.md B.3, B.6): `args` as the
// Namespace fairseq builds the model from, every size read from the weights, heads by the shared rule.
void emit_fairseq_envelope(const XlmrShape& s, const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    using ckptconv::sdk::Value;
    const bool xlmr = ckptconv::sdk::starts_with(s.variant, "xlmr");
    const bool roberta = ckptconv::sdk::starts_with(s.variant, "roberta");
    const bool large = s.hidden == 1024 && s.layers == 24;
    const int64_t heads = attention_heads(s, request);
    const std::string bpe = request.one_of("bpe", roberta ? "gpt2" : "sentencepiece", {"sentencepiece", "gpt2"});
    if (!xlmr && !roberta && !request.has_option("bpe"))
        plan.note("args.bpe = sentencepiece (XLM-R's); pass --option bpe=gpt2 for a RoBERTa vocabulary");
    const int64_t positions = s.positions - 2; // fairseq's learned positions keep padding_idx + 1 rows in front
    plan.value("args", Value::ns(fairseq_family::join(
                           fairseq_family::transformer_side("encoder", s.layers, s.hidden, s.ffn, heads),
                           {{"arch", large ? "roberta_large" : "roberta_base"},
                            {"task", xlmr ? "multilingual_masked_lm" : "masked_lm"},
                            {"criterion", "masked_lm"},
                            {"data", "."},
                            {"bpe", bpe},
                            {"max_positions", positions},
                            {"tokens_per_sample", positions},
                            {"max_source_positions", positions},
                            {"layernorm_embedding", true},
                            {"untie_weights_roberta", false},
                            {"no_scale_embedding", true},
                            {"activation_fn", "gelu"},
                            {"pooler_activation_fn", "tanh"},
                            {"dropout", 0.1},
                            {"attention_dropout", 0.1},
                            {"activation_dropout", 0.0},
                            {"pooler_dropout", 0.0},
                            {"encoder_layerdrop", 0.0},
                            {"encoder_layers_to_keep", Value()},
                            {"quant_noise_pq", 0.0},
                            {"quant_noise_pq_block_size", 8},
                            {"quant_noise_scalar", 0.0},
                            {"spectral_norm_classification_head", false},
                            {"seed", 1}})));
    plan.value("optimizer_history", fairseq_family::optimizer_history("MaskedLmLoss"));
    plan.value("extra_state", fairseq_family::extra_state());
    plan.note("fairseq envelope: args (arch " + std::string(large ? "roberta_large" : "roberta_base") + ", " +
              std::to_string(heads) + " heads" + (request.has_option("heads") ? " from --option heads" : "") +
              "), optimizer_history, extra_state; beside it fairseq wants dict.txt" +
              (bpe == "sentencepiece" ? " and sentencepiece.bpe.model" : ", encoder.json and vocab.bpe"));
}

// config.json of the transformers model folder (--to hf): every size from the weights, heads by the shared
// rule, the special-token ids and norms of XLMRobertaConfig / RobertaConfig as released.
std::string transformers_config(const XlmrShape& s, const ckptconv::sdk::PlanRequest& request) {
    using ckptconv::sdk::json_array;
    using ckptconv::sdk::json_string;
    const bool roberta = ckptconv::sdk::starts_with(s.variant, "roberta");
    const int64_t heads = attention_heads(s, request);
    const std::string family = roberta ? "Roberta" : "XLMRoberta";
    const std::string architecture = family + (s.lm_head ? "ForMaskedLM" : "Model");
    return ckptconv::sdk::json_object({{"architectures", json_array({json_string(architecture)})},
                                       {"attention_probs_dropout_prob", "0.1"},
                                       {"bos_token_id", "0"},
                                       {"eos_token_id", "2"},
                                       {"hidden_act", json_string("gelu")},
                                       {"hidden_dropout_prob", "0.1"},
                                       {"hidden_size", std::to_string(s.hidden)},
                                       {"initializer_range", "0.02"},
                                       {"intermediate_size", std::to_string(s.ffn)},
                                       {"layer_norm_eps", "1e-05"},
                                       {"max_position_embeddings", std::to_string(s.positions)},
                                       {"model_type", json_string(roberta ? "roberta" : "xlm-roberta")},
                                       {"num_attention_heads", std::to_string(heads)},
                                       {"num_hidden_layers", std::to_string(s.layers)},
                                       {"pad_token_id", "1"},
                                       {"position_embedding_type", json_string("absolute")},
                                       {"type_vocab_size", "1"},
                                       {"use_cache", "true"},
                                       {"vocab_size", std::to_string(s.vocab)}});
}

} // namespace

std::vector<TargetKey> fairseq_keys(const XlmrShape& s) {
    const int64_t D = s.hidden;
    std::vector<TargetKey> k;
    const std::string se = "encoder.sentence_encoder.";
    k.push_back({se + "version", {1}}); // TransformerEncoder's own buffer comes before its children
    k.push_back({se + "embed_tokens.weight", {s.vocab, D}});
    k.push_back({se + "embed_positions.weight", {s.positions, D}});
    norm(k, se + "layernorm_embedding", D);
    for (int64_t i = 0; i < s.layers; ++i) {
        const std::string b = se + "layers." + std::to_string(i) + ".";
        for (const char* p : {"k_proj", "v_proj", "q_proj", "out_proj"}) linear(k, b + "self_attn." + p, D, D);
        norm(k, b + "self_attn_layer_norm", D);
        linear(k, b + "fc1", s.ffn, D);
        linear(k, b + "fc2", D, s.ffn);
        norm(k, b + "final_layer_norm", D);
    }
    if (s.lm_head) { // RobertaLMHead: its own weight and bias, then dense and layer_norm
        k.push_back({"encoder.lm_head.weight", {s.vocab, D}});
        k.push_back({"encoder.lm_head.bias", {s.vocab}});
        linear(k, "encoder.lm_head.dense", D, D);
        norm(k, "encoder.lm_head.layer_norm", D);
    }
    return k;
}

std::vector<TargetKey> hf_keys(const XlmrShape& s) {
    const int64_t D = s.hidden;
    std::vector<TargetKey> k;
    k.push_back({"roberta.embeddings.word_embeddings.weight", {s.vocab, D}});
    k.push_back({"roberta.embeddings.position_embeddings.weight", {s.positions, D}});
    k.push_back({"roberta.embeddings.token_type_embeddings.weight", {1, D}});
    norm(k, "roberta.embeddings.LayerNorm", D);
    for (int64_t i = 0; i < s.layers; ++i) {
        const std::string b = "roberta.encoder.layer." + std::to_string(i) + ".";
        for (const char* p : {"query", "key", "value"}) linear(k, b + "attention.self." + p, D, D);
        linear(k, b + "attention.output.dense", D, D);
        norm(k, b + "attention.output.LayerNorm", D);
        linear(k, b + "intermediate.dense", s.ffn, D);
        linear(k, b + "output.dense", D, s.ffn);
        norm(k, b + "output.LayerNorm", D);
    }
    if (s.lm_head) { // RobertaLMHead: its own bias, then dense, layer_norm, decoder (tied weight and bias)
        k.push_back({"lm_head.bias", {s.vocab}});
        linear(k, "lm_head.dense", D, D);
        norm(k, "lm_head.layer_norm", D);
        k.push_back({"lm_head.decoder.weight", {s.vocab, D}});
        k.push_back({"lm_head.decoder.bias", {s.vocab}});
    }
    return k;
}

void plan_xlmr_hf(const XlmrShape& detected, const ckptconv::sdk::IndexView& index,
                  const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    XlmrShape s = detected;
    if (s.layout == XlmrLayout::Fairseq)
        s.root = fairseq_family::model_or_ema_root(index, request, plan, s.root,
                                                   s.prefix + "sentence_encoder.embed_tokens.weight");
    else if (request.option("ema") == "1")
        throw ckptconv::sdk::invalid_data("--option ema: only a fairseq save carries an EMA copy");
    const bool to_fairseq = request.format_version == "hf";
    if (!to_fairseq && request.format_version != "fairseq")
        throw ckptconv::sdk::unsupported("no rules for format version '" + request.format_version +
                                         "' (known: hf, fairseq)");
    if ((s.layout == XlmrLayout::HuggingFace) != to_fairseq)
        throw ckptconv::sdk::invalid_data("format version " + request.format_version + " was forced, but root '" +
                                          s.root + "' has the " + (to_fairseq ? "fairseq" : "Hugging Face") + " names");
    const KeyPattern in_proj("encoder.sentence_encoder.layers.{i}.self_attn.in_proj_{wb}");
    std::map<std::string, Expr> outputs;
    std::map<std::string, std::string> aliases;
    const std::string embed_key =
        to_fairseq ? s.prefix + "embeddings.word_embeddings.weight" : s.prefix + "sentence_encoder.embed_tokens.weight";
    const auto* embed = index.find(s.root, embed_key);
    const std::string head_key = to_fairseq ? "lm_head.decoder.weight" : s.prefix + "lm_head.weight";
    plan.model_root(s.root); // the rest of a fairseq save is training state
    for (const auto* t : index.tensors_of(*index.root(s.root))) {
        const std::string key(t->key);
        if (to_fairseq) {
            if (std::string why = hf_only(key); !why.empty()) {
                plan.drop(s.root, key, why);
                continue;
            }
        } else if (key == s.prefix + "sentence_encoder.version") {
            plan.drop(s.root, key, "fairseq's format-version buffer: HF has none");
            continue;
        }
        // Tied output embedding: one tensor, named twice.
        if (key == head_key && embed && embed->storage_group == t->storage_group) {
            plan.drop(s.root, key, "tied to " + embed_key + ": written once");
            aliases[to_fairseq ? "encoder.lm_head.weight" : "lm_head.decoder.weight"] = to_fairseq ? kEmbed : kHfEmbed;
            continue;
        }
        if (to_fairseq) {
            const std::string hf =
                s.prefix.empty() && !ckptconv::sdk::starts_with(key, "lm_head.") ? "roberta." + key : key;
            if (auto name = names().forward(hf)) outputs[*name] = plan.source(s.root, key);
            continue; // unmapped keys stay unmapped, and the plan check names them
        }
        const std::string k = upgraded(s, key);
        if (auto c = in_proj.match(k)) { // the 2019 fused projection: rows q, k, v
            const std::string b = "roberta.encoder.layer." + (*c)["i"] + ".attention.self.";
            const std::string wb = (*c)["wb"];
            const char* parts[] = {"query", "key", "value"};
            for (int64_t j = 0; j < 3; ++j)
                outputs[b + parts[j] + "." + wb] = plan.chunk(plan.source(s.root, key), 3, j);
        } else if (auto name = names().backward(k)) {
            outputs[*name] = plan.source(s.root, key);
        }
    }
    if (to_fairseq) {
        outputs["encoder.sentence_encoder.version"] = plan.full({1}, CKPTCONV_DTYPE_F32, 3.0);
        // safetensors saves of tied models leave lm_head.decoder.weight out: it is the word embedding.
        if (s.lm_head && !index.find(s.root, head_key)) aliases["encoder.lm_head.weight"] = kEmbed;
        if (!s.lm_head)
            plan.note("no lm_head in the input (a base model): fairseq's RobertaModel expects encoder.lm_head.*");
        ckptconv::sdk::emit_in_target_order(plan, "model", fairseq_keys(s), std::move(outputs), aliases);
        emit_fairseq_envelope(s, request, plan);
        plan.target("fairseq");
    } else {
        outputs["roberta.embeddings.token_type_embeddings.weight"] = plan.zeros({1, s.hidden}, s.dtype);
        if (s.lm_head) aliases["lm_head.decoder.bias"] = "lm_head.bias";
        ckptconv::sdk::emit_in_target_order(plan, "", hf_keys(s), std::move(outputs), aliases);
        if (request.output_format == "hf") {
            plan.file("config.json", transformers_config(s, request));
            plan.note("transformers model folder: config.json and model.safetensors; the tokenizer loads from the same "
                      "folder: sentencepiece.bpe.model (XLM-R), or for a GPT-2 vocabulary HF's vocab.json and "
                      "merges.txt, which fairseq's encoder.json and vocab.bpe are not");
        }
        plan.target("hf");
    }
    plan.keep_extras(false);
}

} // namespace xlmr_hf
