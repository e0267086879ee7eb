// Writes a checked plan's outputs as pt, safetensors or a diffusers component folder.
#pragma once

#include "core/io/OutputTransaction.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "core/report/ConversionReport.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ckptconv::core {

struct ConversionOutput {
    std::string format;         ///< "pt", "safetensors", "diffusers" or "hf"
    std::filesystem::path path; ///< a file (pt, safetensors) or a folder (diffusers, hf)
    uint64_t shard_size = 0;    ///< safetensors cap; diffusers and hf default to 5 GB
    /// What produced the output ("ckptconv.version", "ckptconv.plugin", ...): recorded where each target's
    /// loader ignores it (safetensors __metadata__ and the index's metadata, a fairseq envelope's extra_state).
    std::map<std::string, std::string> provenance;
};

/**
 * Stages every output file in `tx` (nothing is visible before tx.commit()).
 * - pt: output roots become (nested) dicts; the source's non-tensor entries
 *   are kept when the plan keeps extras; untouched sources keep their
 *   storages (and sharing); aliases share their target's storage.
 * - safetensors: one name per output (`root.key` when there are several
 *   output roots), aliases written once and recorded in __metadata__.
 * - diffusers: `<folder>/<component>/diffusion_pytorch_model.safetensors`
 *   (Hub shard names and index past the cap) plus the plan's files.
 * Returns the files written; `notes` gets what the format could not hold.
 */
std::vector<ReportFile> write_conversion(const CheckpointIndex& index, const Plan& plan, const PlanExecutor& executor,
                                         const ConversionOutput& output, OutputTransaction& tx,
                                         std::vector<std::string>& notes);

} // namespace ckptconv::core
