// A transformers T5 folder (a SAT release's t5-v1_1-xxl/, or --text-encoder DIR) carried into a
// diffusers CogVideoX pipeline: text_encoder/ as T5EncoderModel loads it, tokenizer/ as the
// upstream files (target-loaders.md D.2-D.4). The tokenizer is copied, never synthesised.
#pragma once

#include "core/convert/CopiedFiles.hpp"
#include "core/index/CheckpointIndex.hpp"
#include "core/io/OutputTransaction.hpp"
#include "core/plan/Plan.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/report/ConversionReport.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckptconv::convert {

/** `folder` holds a config.json whose model_type is "t5". */
bool is_t5_folder(const std::filesystem::path& folder);

class T5TextEncoder {
  public:
    /**
     * Reads `folder`'s config.json and weights and checks that the weights are the
     * encoder that config describes (Error BadInput naming the file, key and
     * expected shape). Weights already in T5EncoderModel's safetensors layout are
     * copied unchanged; others (pytorch_model.bin, a whole T5 with its decoder, a
     * --dtype cast) are rewritten, the decoder and lm_head dropped with a reason.
     * `options` are the user's (recorded as provenance).
     */
    T5TextEncoder(const std::filesystem::path& folder, const std::string& dtype,
                  const std::vector<std::pair<std::string, std::string>>& options);
    T5TextEncoder(const T5TextEncoder&) = delete;
    T5TextEncoder& operator=(const T5TextEncoder&) = delete;

    /** The tokenizer class for model_index.json (T5Tokenizer, T5TokenizerFast), or none found. */
    const std::optional<std::string>& tokenizer_class() const { return tokenizer_class_; }
    std::vector<std::filesystem::path> inputs() const;
    uint64_t planned_bytes() const;
    /** Stages text_encoder/ and tokenizer/ under `pipeline_folder`, recording the files in the report. */
    void write(core::OutputTransaction& tx, const std::filesystem::path& pipeline_folder);

    core::ConversionReport& report() { return report_; }
    const core::ConversionReport& report() const { return report_; }
    const core::CheckpointIndex& index() const { return index_; }
    /** Every weight as it must come out (the identity when the files are copied). */
    const core::Plan& plan() const { return plan_; }
    const core::PlanExecutor& executor() const { return *executor_; }
    /** Files copied unchanged (tokenizer files, and config and weights when not rewritten). */
    const std::vector<CopiedFile>& copied() const { return copied_; }

  private:
    std::filesystem::path folder_;
    core::CheckpointIndex index_;
    core::Plan plan_;
    std::optional<core::PlanExecutor> executor_;
    bool rewrite_ = false;
    std::vector<CopiedFile> copied_;
    std::optional<std::string> tokenizer_class_;
    core::ConversionReport report_;
    std::map<std::string, std::string> provenance_;
};

} // namespace ckptconv::convert
