#include "core/convert/CopiedFiles.hpp"

#include "core/io/FileWriter.hpp"

namespace ckptconv::convert {
namespace fs = std::filesystem;

namespace {
// What transformers' tokenizers save and load by name. GPT-2 style vocab.json/merges.txt are left
// out: fairseq's encoder.json/vocab.bpe beside a RoBERTa are not in the ids HF's files use.
constexpr const char* kTokenizerFiles[] = {"sentencepiece.bpe.model", "spiece.model",
                                           "tokenizer.json",          "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json"};
} // namespace

std::vector<CopiedFile> tokenizer_files_in(const fs::path& dir, const std::string& target_prefix) {
    std::vector<CopiedFile> files;
    for (const char* name : kTokenizerFiles) {
        std::error_code ec;
        if (fs::is_regular_file(dir / name, ec))
            files.push_back({dir / name, target_prefix + name, fs::file_size(dir / name)});
    }
    return files;
}

void stage_copies(core::OutputTransaction& tx, const fs::path& folder, const std::vector<CopiedFile>& copies,
                  std::vector<core::ReportFile>& written) {
    for (const auto& c : copies) {
        const fs::path target = folder / c.target;
        tx.make_dirs(target.parent_path());
        core::FileWriter out(tx.stage(target).string());
        out.copy_whole_file(c.source.string(), c.size);
        out.close();
        written.push_back({target, 0, c.size});
    }
}

} // namespace ckptconv::convert
