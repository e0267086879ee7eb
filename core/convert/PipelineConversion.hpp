// convert on a pipeline folder (e.g. a SAT release: transformer/ + vae/): each
// component detected and converted on its own, all written as one diffusers folder.
#pragma once

#include "core/convert/ConversionChoices.hpp"
#include "core/convert/PreparedConversion.hpp"
#include "core/convert/Session.hpp"
#include "core/convert/T5TextEncoder.hpp"
#include "core/io/CheckpointFolder.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::convert {

struct PipelineSettings {
    std::string folder;
    std::string output;
    std::string to;                ///< "" or diffusers; anything else is refused
    std::vector<std::string> only; ///< --component: convert just these subfolders
    /// --text-encoder: a transformers T5 folder to carry in, instead of a T5 subfolder of `folder`
    std::optional<std::filesystem::path> text_encoder;
};

/** A pipeline folder's components, detected, planned and checked; nothing written yet. */
struct PlannedPipeline {
    std::vector<std::string> names;                               ///< component subfolders, as conversions
    std::vector<std::unique_ptr<PreparedConversion>> conversions; ///< one per converted component
    std::vector<std::string> skipped;                             ///< "name: not converted (why)"
    std::unique_ptr<T5TextEncoder> text_encoder;                  ///< text_encoder/ and tokenizer/, if any

    /** Every file read, which no output may replace. */
    std::vector<std::filesystem::path> inputs() const;
    /** Bytes the outputs will hold. */
    uint64_t planned_bytes() const;
    /** Stages every component into `output`/<component> in `tx`. */
    void write(core::OutputTransaction& tx, const std::filesystem::path& output, uint64_t shard_size);
    /** Each component's plan, for --dry-run. */
    std::string plan_text() const;
    /** Each component's report, then what was not converted. */
    std::string report_text() const;
    nlohmann::ordered_json report_json(const std::string& input, const std::string& output) const;
};

/**
 * Detects every component, refuses the folder when a component is ambiguous
 * or two claim the same plugin or output folder, then plans and checks them
 * all. Components no plugin recognises are left out and listed in `skipped`.
 *
 * A transformers T5 folder (config.json with model_type t5; or
 * settings.text_encoder) is carried in as text_encoder/ and tokenizer/.
 *
 * Plugins see what the others detected through options the host sets after
 * the user's (so the user's win): `pipeline.plugins` (comma-separated ids of
 * every converted component), `pipeline.<plugin id>.variant`, and with a
 * text encoder `pipeline.text_encoder` and `pipeline.tokenizer` (class names).
 */
PlannedPipeline plan_pipeline(const Session& session, const core::PipelineFolder& folder,
                              const ConversionChoices& choices, const PipelineSettings& settings);

} // namespace ckptconv::convert
