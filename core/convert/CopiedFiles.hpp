// Files an output carries over unchanged from beside its source (tokenizers, a config), copied in
// the kernel inside the conversion's transaction.
#pragma once

#include "core/io/OutputTransaction.hpp"
#include "core/report/ConversionReport.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::convert {

/** A file copied byte for byte from the source side into the output. */
struct CopiedFile {
    std::filesystem::path source;
    std::string target; ///< relative to the output folder, e.g. "tokenizer/spiece.model"
    uint64_t size = 0;
};

/**
 * The transformers tokenizer files (sentencepiece models, tokenizer.json and its
 * configs) that are regular files in `dir`, each to go to `target_prefix` + name.
 */
std::vector<CopiedFile> tokenizer_files_in(const std::filesystem::path& dir, const std::string& target_prefix);

/** Stages every copy under `folder` in `tx`; the files are added to `written`. */
void stage_copies(core::OutputTransaction& tx, const std::filesystem::path& folder,
                  const std::vector<CopiedFile>& copies, std::vector<core::ReportFile>& written);

} // namespace ckptconv::convert
