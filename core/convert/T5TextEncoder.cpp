#include "core/convert/T5TextEncoder.hpp"

#include "core/convert/Provenance.hpp"
#include "core/io/CheckpointFolder.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/plan/ConversionWriter.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/plan/PlanChecker.hpp"
#include "core/util/Error.hpp"
#include "core/util/Text.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>

namespace ckptconv::convert {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxConfigBytes = 1u << 20; // a transformers config.json is a few KB

std::string read_config_text(const fs::path& file) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) throw core::bad_input(file.string(), "cannot read: " + ec.message());
    if (size > kMaxConfigBytes)
        throw core::bad_input(file.string(), std::to_string(size) + " bytes; a model config is at most 1 MiB");
    std::ifstream in(file, std::ios::binary);
    std::string text(static_cast<size_t>(size), '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) throw core::bad_input(file.string(), "cannot read");
    return text;
}

nlohmann::json parse_config(const fs::path& file, const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) throw core::bad_input(file.string(), "not a JSON object");
    return j;
}

/** The sizes of a T5 encoder, each from config.json (named on failure). */
struct T5Sizes {
    int64_t d_model, num_layers, num_heads, d_kv, d_ff, vocab_size, buckets;
    bool gated;
};

T5Sizes read_sizes(const fs::path& file, const nlohmann::json& j) {
    auto field = [&](const char* name) {
        const auto it = j.find(name);
        if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (1 << 24))
            throw core::bad_input(file.string(), std::string(name) + ": expected a positive integer");
        return it->get<int64_t>();
    };
    const auto proj = j.find("feed_forward_proj");
    const std::string ff = proj != j.end() && proj->is_string() ? proj->get<std::string>() : "relu";
    return {field("d_model"),
            field("num_layers"),
            field("num_heads"),
            field("d_kv"),
            field("d_ff"),
            field("vocab_size"),
            j.contains("relative_attention_num_buckets") ? field("relative_attention_num_buckets") : 32,
            ff.rfind("gated-", 0) == 0};
}

/** T5EncoderModel's state dict (transformers models/t5/modeling_t5.py), key -> shape. */
std::map<std::string, core::Shape> encoder_layout(const T5Sizes& s) {
    std::map<std::string, core::Shape> keys;
    const int64_t inner = s.num_heads * s.d_kv;
    keys["shared.weight"] = {s.vocab_size, s.d_model};
    for (int64_t i = 0; i < s.num_layers; ++i) {
        const std::string b = "encoder.block." + std::to_string(i) + ".layer.";
        for (const char* p : {"q", "k", "v"}) keys[b + "0.SelfAttention." + p + ".weight"] = {inner, s.d_model};
        keys[b + "0.SelfAttention.o.weight"] = {s.d_model, inner};
        if (i == 0) keys[b + "0.SelfAttention.relative_attention_bias.weight"] = {s.buckets, s.num_heads};
        keys[b + "0.layer_norm.weight"] = {s.d_model};
        if (s.gated) {
            keys[b + "1.DenseReluDense.wi_0.weight"] = {s.d_ff, s.d_model};
            keys[b + "1.DenseReluDense.wi_1.weight"] = {s.d_ff, s.d_model};
        } else {
            keys[b + "1.DenseReluDense.wi.weight"] = {s.d_ff, s.d_model};
        }
        keys[b + "1.DenseReluDense.wo.weight"] = {s.d_model, s.d_ff};
        keys[b + "1.layer_norm.weight"] = {s.d_model};
    }
    keys["encoder.final_layer_norm.weight"] = {s.d_model};
    return keys;
}

/** Why a whole T5's extra tensors are left out, or "" for a tensor T5EncoderModel keeps. */
std::string drop_reason(const std::string& key) {
    if (key.rfind("decoder.", 0) == 0 || key == "lm_head.weight")
        return "decoder side of a whole T5: T5EncoderModel has no decoder and ignores it on load";
    if (key == "encoder.embed_tokens.weight")
        return "tied: T5EncoderModel's encoder.embed_tokens is shared.weight, saved once as save_pretrained does";
    return "";
}

/** Weights save_pretrained would have written under the names from_pretrained looks for. */
bool hub_named_safetensors(const core::CheckpointIndex& index) {
    if (index.container == "safetensors")
        return index.files.size() == 1 && fs::path(index.files[0]->path()).filename() == "model.safetensors";
    return index.container == "safetensors-sharded" && index.also_read.size() == 1 &&
           fs::path(index.also_read[0]).filename() == "model.safetensors.index.json";
}

} // namespace

bool is_t5_folder(const fs::path& folder) {
    const fs::path file = folder / "config.json";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > kMaxConfigBytes) return false;
    const nlohmann::json j = nlohmann::json::parse(read_config_text(file), nullptr, false);
    return j.is_object() && j.value("model_type", "") == "t5";
}

T5TextEncoder::T5TextEncoder(const fs::path& folder, const std::string& dtype,
                             const std::vector<std::pair<std::string, std::string>>& options)
    : folder_(folder) {
    const fs::path config_file = folder / "config.json";
    const std::string config_text = read_config_text(config_file);
    nlohmann::json config = parse_config(config_file, config_text);
    const T5Sizes sizes = read_sizes(config_file, config);
    index_ = core::open_checkpoint(core::resolve_checkpoint_folder(folder).string());
    // Bounded before the layout is built: a config cannot make it larger than the weights it describes.
    if (static_cast<uint64_t>(sizes.num_layers) > index_.tensors.size())
        throw core::bad_input(config_file.string(), "num_layers " + std::to_string(sizes.num_layers) +
                                                        ", but the weights hold only " +
                                                        std::to_string(index_.tensors.size()) + " tensors");
    const std::map<std::string, core::Shape> layout = encoder_layout(sizes);
    const std::string weights = index_.path;
    core::PlanBuilder b(index_);
    std::set<std::string> kept;
    bool dropped = false;
    for (const auto& t : index_.tensors) {
        const std::string& root = index_.roots[t.root].path;
        if (!root.empty())
            throw core::bad_input(weights, "tensor " + core::dotted_name(root, t.key) +
                                               ": a transformers checkpoint is a flat state dict");
        const std::string reason = drop_reason(t.key);
        if (!reason.empty()) {
            b.drop(root, t.key, reason);
            dropped = true;
            continue;
        }
        const auto it = layout.find(t.key);
        if (it == layout.end())
            throw core::bad_input(weights, "tensor " + t.key + " is not part of the T5 encoder " +
                                               config_file.string() + " describes (layers, feed-forward kind)");
        if (core::Shape(t.info->shape.begin(), t.info->shape.end()) != it->second)
            throw core::bad_input(weights, "tensor " + t.key + " has shape " +
                                               core::shape_text({t.info->shape.begin(), t.info->shape.end()}) +
                                               ", but " + config_file.string() + " asks for " +
                                               core::shape_text(it->second));
        b.output("", t.key, b.source(root, t.key));
        kept.insert(t.key);
    }
    for (const auto& [key, shape] : layout)
        if (!kept.count(key))
            throw core::bad_input(weights, "tensor " + key + " " + core::shape_text(shape) + " is missing; " +
                                               config_file.string() + " asks for it");

    rewrite_ = dropped || dtype != "keep" || !hub_named_safetensors(index_);
    // A whole T5's config names T5ForConditionalGeneration; what is written is the encoder.
    const auto arch = config.find("architectures");
    if (rewrite_ && dropped &&
        (arch == config.end() || *arch != nlohmann::json::array({std::string("T5EncoderModel")}))) {
        config["architectures"] = {"T5EncoderModel"};
        b.file("config.json", config.dump(2) + "\n"); // sorted keys and indent 2, as save_pretrained
        b.note("config.json: architectures set to T5EncoderModel, every other field as in the source");
    } else {
        copied_.push_back({config_file, "text_encoder/config.json", config_text.size()});
    }
    b.target("T5EncoderModel", "text_encoder");
    b.keep_extras(false);
    plan_ = b.take();
    core::check_plan(index_, plan_, dtype != "keep");
    executor_.emplace(index_, plan_, core::dtype_option_target(dtype));
    if (!rewrite_)
        for (const auto& f : index_.input_files())
            copied_.push_back({f, "text_encoder/" + fs::path(f).filename().string(), fs::file_size(f)});

    std::error_code ec;
    if (fs::is_regular_file(folder / "spiece.model", ec))
        tokenizer_class_ = "T5Tokenizer";
    else if (fs::is_regular_file(folder / "tokenizer.json", ec))
        tokenizer_class_ = "T5TokenizerFast";
    if (tokenizer_class_) { // without a vocabulary the configs alone load nothing
        const auto tokenizer = tokenizer_files_in(folder, "tokenizer/");
        copied_.insert(copied_.end(), tokenizer.begin(), tokenizer.end());
    }

    report_.input = folder.string();
    report_.plugin = "t5_text_encoder";
    report_.plugin_version = CKPTCONV_VERSION; // part of the host, not a plugin
    report_.format_version = "transformers";
    report_.target = "T5EncoderModel";
    report_.roots = core::count_roots(index_, plan_);
    report_.notes = plan_.notes;
    std::vector<std::string> why; // what made a rewrite necessary
    if (dropped) why.push_back("encoder only");
    if (dtype != "keep") why.push_back("cast to " + dtype);
    if (why.empty()) why.push_back("from " + index_.container + " under other names than the Hub's");
    report_.notes.push_back(rewrite_ ? "weights rewritten as model.safetensors (" + core::join(why, ", ") + ")"
                                     : "weights already in T5EncoderModel's safetensors layout: copied unchanged");
    if (tokenizer_class_)
        report_.notes.push_back("tokenizer/: the source's tokenizer files copied unchanged, loaded as " +
                                *tokenizer_class_);
    else
        report_.notes.push_back(
            folder.string() +
            " holds no spiece.model or tokenizer.json: model_index.json lists tokenizer as "
            "[null, null]; copy the tokenizer/ folder of a CogVideoX diffusers repo (or "
            "google/t5-v1_1-xxl's spiece.model) in and set it to [\"transformers\", \"T5Tokenizer\"]");
    provenance_ = provenance(report_, options, index_);
}

std::vector<fs::path> T5TextEncoder::inputs() const {
    std::vector<fs::path> files;
    for (const auto& f : index_.input_files()) files.emplace_back(f);
    for (const auto& c : copied_) files.push_back(c.source);
    return files;
}

uint64_t T5TextEncoder::planned_bytes() const {
    uint64_t planned = 0;
    for (const auto& c : copied_) planned += c.size;
    if (rewrite_)
        for (size_t i = 0; i < plan_.outputs.size(); ++i) planned += executor_->nbytes(i);
    return planned;
}

void T5TextEncoder::write(core::OutputTransaction& tx, const fs::path& pipeline_folder) {
    if (rewrite_) {
        auto files = core::write_conversion(
            index_, plan_, *executor_, core::ConversionOutput{"hf", pipeline_folder / "text_encoder", 0, provenance_},
            tx, report_.notes);
        report_.files.insert(report_.files.end(), files.begin(), files.end());
    }
    stage_copies(tx, pipeline_folder, copied_, report_.files);
}

} // namespace ckptconv::convert
