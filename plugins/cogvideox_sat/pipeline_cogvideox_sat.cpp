#include "pipeline_cogvideox_sat.hpp"

#include <cogvideox_family/model_values.hpp>

namespace cogvideox_sat {
namespace {

using ckptconv::sdk::json_array;
using ckptconv::sdk::json_string;

std::string library_class(const char* library, const char* class_name) {
    return json_array({json_string(library), json_string(class_name)});
}

const std::string kNotConverted = json_array({"null", "null"});

bool converted_here(const ckptconv::sdk::PlanRequest& request, const std::string& plugin) {
    const std::string list = "," + request.option("pipeline.plugins") + ",";
    return list.find("," + plugin + ",") != std::string::npos;
}

std::string scheduler_config(const cogvideox_family::ModelValues& values) {
    return ckptconv::sdk::json_object({
        {"_class_name", json_string("CogVideoXDDIMScheduler")},
        {"_diffusers_version", json_string("0.32.0")},
        {"beta_end", "0.012"},
        {"beta_schedule", json_string("scaled_linear")},
        {"beta_start", "0.00085"},
        {"clip_sample", "false"},
        {"clip_sample_range", "1.0"},
        {"num_train_timesteps", "1000"},
        {"prediction_type", json_string("v_prediction")},
        {"rescale_betas_zero_snr", "true"},
        {"sample_max_value", "1.0"},
        {"set_alpha_to_one", "true"},
        {"snr_shift_scale", values.snr_shift_scale},
        {"steps_offset", "0"},
        {"timestep_spacing", json_string("trailing")},
        {"trained_betas", "null"},
    });
}

} // namespace

void plan_pipeline_files(const SatTransformerShape& s, const ckptconv::sdk::PlanRequest& request,
                         ckptconv::sdk::Plan& plan) {
    const std::string variant = request.option("variant", s.variant);
    const cogvideox_family::ModelValues* values = cogvideox_family::model_values(variant);
    if (!values)
        throw ckptconv::sdk::Error(
            CKPTCONV_E_INVALID_ARGUMENT,
            (request.has_option("variant")
                 ? "unknown variant '" + variant + "'"
                 : "the transformer is a " + variant + " model, which does not tell the scheduler's snr_shift_scale") +
                ": " + cogvideox_family::model_value_choices());
    const bool i2v = s.in_channels == 32;
    const bool vae = converted_here(request, "cogvideox_vae");
    // The host carries a T5 folder in as text_encoder/ and tokenizer/ and names their classes.
    const std::string text_encoder = request.option("pipeline.text_encoder");
    const std::string tokenizer = request.option("pipeline.tokenizer");
    plan.file("model_index.json",
              ckptconv::sdk::json_object({
                  {"_class_name", json_string(i2v ? "CogVideoXImageToVideoPipeline" : "CogVideoXPipeline")},
                  {"_diffusers_version", json_string("0.32.0")},
                  {"scheduler", library_class("diffusers", "CogVideoXDDIMScheduler")},
                  {"text_encoder",
                   text_encoder.empty() ? kNotConverted : library_class("transformers", text_encoder.c_str())},
                  {"tokenizer", tokenizer.empty() ? kNotConverted : library_class("transformers", tokenizer.c_str())},
                  {"transformer", library_class("diffusers", "CogVideoXTransformer3DModel")},
                  {"vae", vae ? library_class("diffusers", "AutoencoderKLCogVideoX") : kNotConverted},
              }));
    plan.file("scheduler/scheduler_config.json", scheduler_config(*values));
    if (text_encoder.empty())
        plan.note("no T5 text encoder was carried in (a SAT folder's t5-v1_1-xxl/, or --text-encoder DIR): pass "
                  "text_encoder=T5EncoderModel and tokenizer=T5Tokenizer (google/t5-v1_1-xxl, or the text_encoder/ "
                  "and tokenizer/ folders of a THUDM CogVideoX diffusers repo) to from_pretrained, or copy those "
                  "folders in and set their model_index.json entries to [\"transformers\", \"T5EncoderModel\"] "
                  "and [\"transformers\", \"T5Tokenizer\"]");
    if (!vae) plan.note("no VAE was converted with the transformer; model_index.json lists vae as [null, null]");
}

} // namespace cogvideox_sat
