// The pipeline-level files of a SAT folder conversion (cogvideox.md 7): the transformer
// plugin writes them because its detection names the pipeline class and the variant.
#pragma once

#include "detect_cogvideox_sat.hpp"

namespace cogvideox_sat {

/**
 * model_index.json (T2V or I2V pipeline; components not converted in this run
 * as [null, null]) and scheduler/scheduler_config.json, plus a report note on
 * the T5 text encoder, which a SAT folder does not hold in diffusers form.
 * The scheduler's shift comes from --option variant or the detected variant;
 * a custom-size model without the option is refused, never guessed.
 */
void plan_pipeline_files(const SatTransformerShape& shape, const ckptconv::sdk::PlanRequest& request,
                         ckptconv::sdk::Plan& plan);

} // namespace cogvideox_sat
