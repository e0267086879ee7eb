// One checkpoint's conversion with a plugin (or the config's rules), planned and
// checked but not yet written: convert runs one, a pipeline folder several.
#pragma once

#include "core/convert/ConversionChoices.hpp"
#include "core/convert/CopiedFiles.hpp"
#include "core/convert/PluginChoice.hpp"
#include "core/io/OutputTransaction.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/report/ConversionReport.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ckptconv::convert {

class PreparedConversion {
  public:
    /**
     * Plans `index` with the chosen plugin (or the config's rules when
     * choices.use_rules), checks the plan (Error PlanRejected), and fills the
     * report's header and per-root counts. `to` is the user's container
     * ("" = the plugin's own target, else pt).
     */
    PreparedConversion(core::CheckpointIndex index, const PluginChoice& chosen, const ConversionChoices& choices,
                       const core::Config& config, const std::string& to, const std::string& input,
                       const std::string& output);
    PreparedConversion(const PreparedConversion&) = delete;
    PreparedConversion& operator=(const PreparedConversion&) = delete;

    const core::CheckpointIndex& index() const { return index_; }
    const core::Plan& plan() const { return plan_; }
    /** Produces each output's bytes on demand (verify compares them with what was written). */
    const core::PlanExecutor& executor() const { return *executor_; }
    /** "pt", "safetensors" or "diffusers". */
    const std::string& format() const { return format_; }
    core::ConversionReport& report() { return report_; }
    /** The files being read, which no output may replace. */
    std::vector<std::filesystem::path> inputs() const;
    /** Bytes the outputs will hold (each tied tensor once). */
    uint64_t planned_bytes() const;
    /** Stages every output in `tx` (diffusers: into `folder`/<component>) and records the files in the report. */
    void write(core::OutputTransaction& tx, const std::filesystem::path& target, uint64_t shard_size);

  private:
    core::CheckpointIndex index_;
    core::Plan plan_;
    std::string format_;
    std::optional<core::PlanExecutor> executor_;
    core::ConversionReport report_;
    std::map<std::string, std::string> provenance_; ///< what the outputs record about how they were made
    std::vector<CopiedFile> tokenizer_;             ///< a transformers folder's tokenizer, from beside the source
};

} // namespace ckptconv::convert
