#include "rules_deltalm_fairseq.hpp"

#include <fairseq_family/ema.hpp>
#include <fairseq_family/envelope.hpp>

#include <map>

namespace deltalm_fairseq {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyMap;
using ckptconv::sdk::TargetKey;

// Pretrained name <-> fairseq name; the last pair keeps attention and LayerNorm names as they are.
const KeyMap& names() {
    static const KeyMap map{
        {"src_embedding.embed_tokens.weight", "encoder.embed_tokens.weight"},
        {"src_embedding.embed_positions.weight", "encoder.embed_positions.weight"},
        {"src_embedding.emb_layer_norm.{wb}", "encoder.layernorm_embedding.{wb}"},
        {"tgt_embedding.embed_tokens.weight", "decoder.embed_tokens.weight"},
        {"tgt_embedding.embed_positions.weight", "decoder.embed_positions.weight"},
        {"tgt_embedding.emb_layer_norm.{wb}", "decoder.layernorm_embedding.{wb}"},
        {"encoder.layers.{i}.ffn.fc1.{wb}", "encoder.layers.{i}.fc1.{wb}"},
        {"encoder.layers.{i}.ffn.fc2.{wb}", "encoder.layers.{i}.fc2.{wb}"},
        {"decoder.layers.{i}.ffn_1.fc1.{wb}", "decoder.layers.{i}.fc3.{wb}"}, // the FFN between the attentions
        {"decoder.layers.{i}.ffn_1.fc2.{wb}", "decoder.layers.{i}.fc4.{wb}"},
        {"decoder.layers.{i}.ffn_2.fc1.{wb}", "decoder.layers.{i}.fc1.{wb}"},
        {"decoder.layers.{i}.ffn_2.fc2.{wb}", "decoder.layers.{i}.fc2.{wb}"},
        {"{side}.layers.{i}.{part}.{*rest}", "{side}.layers.{i}.{part}.{*rest}"},
    };
    return map;
}

class KeyList {
  public:
    KeyList(int64_t D, int64_t F) : D_(D), F_(F) {}
    void add(const std::string& name, ckptconv::sdk::Shape shape) { keys_.push_back({name, std::move(shape)}); }
    void norm(const std::string& name) {
        add(name + ".weight", {D_});
        add(name + ".bias", {D_});
    }
    void linear(const std::string& name, int64_t out, int64_t in) {
        add(name + ".weight", {out, in});
        add(name + ".bias", {out});
    }
    void attention(const std::string& name, std::initializer_list<const char*> order) {
        for (const char* p : order) linear(name + "." + p, D_, D_);
    }
    void ffn(const std::string& fc_in, const std::string& fc_out) {
        linear(fc_in, F_, D_);
        linear(fc_out, D_, F_);
    }
    std::vector<TargetKey> take() { return std::move(keys_); }

  private:
    int64_t D_, F_;
    std::vector<TargetKey> keys_;
};

Expr resize_rows(ckptconv::sdk::Plan& plan, Expr x, int64_t rows, int64_t wanted) {
    if (wanted == rows) return x;
    return wanted < rows ? plan.narrow(x, 0, 0, wanted) : plan.pad(x, 0, wanted);
}

// The envelope a DeltaLM fine-tune's fairseq writes (target-loaders.md B.4, B.6): `args` None, `cfg` a plain
// dict whose `model` is the legacy Namespace fairseq builds DeltaLMModel from. deltalm_base/_large *assign*
// their sizes, so only those sizes can name them; any other size needs the user's own registered arch.
void emit_fairseq_envelope(const DeltaLmShape& s, int64_t positions, bool shared,
                           const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    using ckptconv::sdk::Value;
    const bool release = s.variant == "base" || s.variant == "large";
    if (!release && !request.has_option("arch"))
        throw ckptconv::sdk::invalid_data(
            "fairseq's deltalm_base and deltalm_large assign their sizes, so this custom DeltaLM (" +
            std::to_string(s.encoder_layers) + "+" + std::to_string(s.decoder_layers) + " layers, width " +
            std::to_string(s.hidden) +
            ") can only be built by an arch of your own: pass --option arch=NAME "
            "(registered with fairseq) and --option heads=N");
    const std::string arch = request.option("arch", "deltalm_" + s.variant);
    const int64_t preset = release ? (s.variant == "large" ? 16 : 12) : 0;
    const int64_t heads = ckptconv::sdk::attention_heads(request, preset, s.hidden, s.variant);
    const int64_t max_positions = positions - 2; // learned positions keep padding_idx + 1 rows in front
    using fairseq_family::join;
    using fairseq_family::transformer_side;
    const Value model = Value::ns(join(join(transformer_side("encoder", s.encoder_layers, s.hidden, s.ffn, heads),
                                            transformer_side("decoder", s.decoder_layers, s.hidden, s.ffn, heads)),
                                       {{"_name", arch},
                                        {"arch", arch},
                                        {"share_all_embeddings", shared},
                                        {"share_decoder_input_output_embed", true},
                                        {"max_source_positions", max_positions},
                                        {"max_target_positions", max_positions},
                                        {"layernorm_embedding", s.embedding_layer_norm},
                                        {"no_scale_embedding", true},
                                        {"activation_fn", "gelu"},
                                        {"dropout", 0.1},
                                        {"attention_dropout", 0.0},
                                        {"activation_dropout", 0.0},
                                        {"pretrained_deltalm_checkpoint", ""},
                                        {"encoder_layers_to_keep", Value()},
                                        {"decoder_layers_to_keep", Value()}}));
    // Task dataclasses interpolate ${common.seed} and ${dataset.*}: those groups must exist.
    const Value cfg = Value::dict(
        {{"_name", Value()},
         {"common", Value::dict({{"seed", 1}, {"fp16", false}, {"cpu", false}})},
         {"dataset", Value::dict({{"train_subset", "train"},
                                  {"valid_subset", "valid"},
                                  {"dataset_impl", Value()},
                                  {"required_seq_len_multiple", 1},
                                  {"max_tokens", Value()},
                                  {"batch_size", Value()}})},
         {"model", model},
         {"task",
          Value::dict({{"_name", "translation"}, {"data", "."}, {"source_lang", Value()}, {"target_lang", Value()}})},
         {"criterion", Value()},
         {"optimizer", Value()},
         {"lr_scheduler", Value()},
         {"generation", Value::dict({{"beam", 5}})},
         {"bpe", Value()},
         {"tokenizer", Value()}});
    plan.value("args", Value());
    plan.value("cfg", cfg);
    plan.value("criterion", Value());
    plan.value("optimizer_history", fairseq_family::optimizer_history("LabelSmoothedCrossEntropyCriterion"));
    plan.value("task_state", Value::dict({}));
    plan.value("extra_state", fairseq_family::extra_state());
    plan.note("fairseq envelope: cfg.model " + arch + " (" + std::to_string(heads) + " heads" +
              (request.has_option("heads") ? " from --option heads" : "") +
              "), task translation with data '.': fairseq wants dict.SRC.txt and dict.TGT.txt (DeltaLM's dict.txt) "
              "beside it, and source_lang/target_lang set when they are not in the file names");
}

} // namespace

std::vector<TargetKey> fairseq_keys(const DeltaLmShape& s, int64_t vocab, int64_t positions) {
    const int64_t D = s.hidden;
    KeyList k(D, s.ffn);
    const auto kvqo = {"k_proj", "v_proj", "q_proj", "out_proj"}; // fairseq MultiheadAttention's order
    for (const std::string side : {"encoder", "decoder"}) {
        k.add(side + ".version", {1});
        k.add(side + ".embed_tokens.weight", {vocab, D});
        k.add(side + ".embed_positions.weight", {positions, D});
        if (s.embedding_layer_norm) k.norm(side + ".layernorm_embedding");
        const bool dec = side == "decoder";
        for (int64_t i = 0; i < (dec ? s.decoder_layers : s.encoder_layers); ++i) {
            const std::string b = side + ".layers." + std::to_string(i) + ".";
            k.attention(b + "self_attn", kvqo);
            k.norm(b + "self_attn_layer_norm");
            if (dec) {
                k.attention(b + "encoder_attn", kvqo);
                k.norm(b + "encoder_attn_layer_norm");
            }
            k.ffn(b + "fc1", b + "fc2");
            if (dec) {
                k.ffn(b + "fc3", b + "fc4");
                k.norm(b + "ffn_layer_norm");
            }
            k.norm(b + "final_layer_norm");
        }
    }
    k.add("decoder.output_projection.weight", {vocab, D});
    return k.take();
}

std::vector<TargetKey> pretrained_keys(const DeltaLmShape& s, int64_t vocab, int64_t positions) {
    const int64_t D = s.hidden;
    KeyList k(D, s.ffn);
    for (const std::string side : {"src_embedding", "tgt_embedding"}) {
        k.add(side + ".embed_tokens.weight", {vocab, D});
        k.add(side + ".embed_positions.weight", {positions, D});
        if (s.embedding_layer_norm) k.norm(side + ".emb_layer_norm");
    }
    const auto qkvo = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int64_t i = 0; i < s.encoder_layers; ++i) {
        const std::string b = "encoder.layers." + std::to_string(i) + ".";
        k.attention(b + "self_attn", qkvo);
        k.norm(b + "self_attn_layer_norm");
        k.ffn(b + "ffn.fc1", b + "ffn.fc2");
        k.norm(b + "final_layer_norm");
    }
    for (int64_t i = 0; i < s.decoder_layers; ++i) { // in the order a decoder layer runs them
        const std::string b = "decoder.layers." + std::to_string(i) + ".";
        k.attention(b + "self_attn", qkvo);
        k.norm(b + "self_attn_layer_norm");
        k.ffn(b + "ffn_1.fc1", b + "ffn_1.fc2");
        k.norm(b + "ffn_layer_norm");
        k.attention(b + "encoder_attn", qkvo);
        k.norm(b + "encoder_attn_layer_norm");
        k.ffn(b + "ffn_2.fc1", b + "ffn_2.fc2");
        k.norm(b + "final_layer_norm");
    }
    return k.take();
}

void plan_deltalm_fairseq(const DeltaLmShape& detected, const ckptconv::sdk::IndexView& index,
                          const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    DeltaLmShape s = detected;
    if (s.layout == DeltaLmLayout::Fairseq)
        s.root = fairseq_family::model_or_ema_root(index, request, plan, s.root, "encoder.embed_tokens.weight");
    else if (request.option("ema") == "1")
        throw ckptconv::sdk::invalid_data("--option ema: only a fairseq save carries an EMA copy");
    const bool to_fairseq = request.format_version == "pretrained";
    if (!to_fairseq && request.format_version != "fairseq")
        throw ckptconv::sdk::unsupported("no rules for format version '" + request.format_version +
                                         "' (known: pretrained, fairseq)");
    if ((s.layout == DeltaLmLayout::Pretrained) != to_fairseq)
        throw ckptconv::sdk::invalid_data(
            "format version " + request.format_version + " was forced, but root '" + s.root + "' has the " +
            (to_fairseq ? "fairseq (fc3, ffn_layer_norm)" : "pretrained (ffn_1, ffn_2)") + " layout");
    const int64_t vocab = request.positive_option("vocab_size", s.vocab);
    const int64_t positions = request.positive_option("positions", s.positions);
    if (vocab > s.vocab || positions > s.positions)
        plan.note("rows added by vocab_size/positions are zeros (fairseq would leave them at random init)");

    const auto* root = index.root(s.root);
    const std::string embed = to_fairseq ? "encoder.embed_tokens.weight" : "src_embedding.embed_tokens.weight";
    const std::string tied_embed = to_fairseq ? "decoder.embed_tokens.weight" : "tgt_embedding.embed_tokens.weight";
    const auto* src_embed = index.find(s.root, to_fairseq ? "src_embedding.embed_tokens.weight" : embed);
    const auto* tgt_embed =
        index.find(s.root, to_fairseq ? "tgt_embedding.embed_tokens.weight" : "decoder.embed_tokens.weight");
    // One storage for both embeddings in the source: written once, the other key tied to it.
    const bool shared = src_embed && tgt_embed && src_embed->storage_group == tgt_embed->storage_group &&
                        src_embed->shape == tgt_embed->shape;
    std::map<std::string, Expr> outputs;
    std::map<std::string, std::string> aliases;
    for (const auto* t : index.tensors_of(*root)) {
        const std::string key(t->key);
        if (!to_fairseq && (key == "encoder.version" || key == "decoder.version")) {
            plan.drop(s.root, key, "fairseq's format-version buffer: the pretrained layout has none");
            continue;
        }
        if (!to_fairseq && key == "decoder.output_projection.weight") {
            const auto* dec = index.find(s.root, "decoder.embed_tokens.weight");
            const bool tied = dec && dec->storage_group == t->storage_group;
            plan.drop(s.root, key,
                      tied ? "tied to decoder.embed_tokens.weight; the pretrained layout has no output projection"
                           : "an untied output projection: the pretrained layout has no slot for it");
            if (!tied) plan.note("decoder.output_projection.weight was not tied to the decoder embedding and is lost");
            continue;
        }
        const auto name = to_fairseq ? names().forward(key) : names().backward(key);
        if (!name) continue; // unmapped: the plan check names it
        if (shared && *name == tied_embed) {
            plan.drop(s.root, key, "the same storage as the other embedding: written once, tied");
            aliases[*name] = embed;
            continue;
        }
        Expr x = plan.source(s.root, key);
        if (ckptconv::sdk::ends_with(*name, "embed_tokens.weight")) x = resize_rows(plan, x, t->dim(0), vocab);
        if (ckptconv::sdk::ends_with(*name, "embed_positions.weight")) x = resize_rows(plan, x, t->dim(0), positions);
        outputs[*name] = x;
    }
    plan.model_root(s.root); // the rest of a fairseq save is training state
    if (to_fairseq) {
        for (const char* version : {"encoder.version", "decoder.version"})
            outputs[version] = plan.full({1}, CKPTCONV_DTYPE_F32, 3.0); // the buffer fairseq's DeltaLM registers
        aliases["decoder.output_projection.weight"] = shared ? embed : tied_embed;
        emit_fairseq_envelope(s, positions, shared, request, plan);
    }
    ckptconv::sdk::emit_in_target_order(plan, to_fairseq ? "model" : "weights",
                                        to_fairseq ? fairseq_keys(s, vocab, positions)
                                                   : pretrained_keys(s, vocab, positions),
                                        std::move(outputs), aliases);
    plan.target(to_fairseq ? "fairseq" : "deltalm_pretrained");
    plan.keep_extras(false);
}

} // namespace deltalm_fairseq
