// All-or-nothing output: files are written under temporary names beside their
// targets and renamed into place only when everything succeeded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

class OutputTransaction {
  public:
    /**
     * `inputs` are the files being read: no output may be one of them.
     * Without `force`, an existing target is refused (Error OutputError).
     */
    OutputTransaction(bool force, std::vector<std::filesystem::path> inputs);
    /** Removes every temporary file unless commit() ran. */
    ~OutputTransaction();
    OutputTransaction(const OutputTransaction&) = delete;
    OutputTransaction& operator=(const OutputTransaction&) = delete;

    /** Registers a final file and returns the temporary path to write it at; a target is staged once. */
    std::filesystem::path stage(const std::filesystem::path& target);
    /** Stages `target` holding `text`. */
    void write_text(const std::filesystem::path& target, const std::string& text);
    /** Refuses (Error OutputError) a `folder` that exists and is not empty, unless forced. */
    void require_empty_folder(const std::filesystem::path& folder) const;
    /** Creates missing folders up to `dir`; the ones it created are removed again on rollback. */
    void make_dirs(const std::filesystem::path& dir);
    /** Renames every staged file to its target (replacing old ones only with force). */
    void commit();
    const std::vector<std::filesystem::path>& targets() const { return targets_; }

  private:
    bool force_;
    std::vector<std::filesystem::path> inputs_;
    std::vector<std::filesystem::path> targets_;
    std::vector<std::filesystem::path> temps_;
    std::vector<std::filesystem::path> created_dirs_; ///< outermost first
    bool committed_ = false;
};

} // namespace ckptconv::core
