// All-or-nothing, durable, exclusive output: files are written under unpredictable
// temporary names beside their targets (created O_EXCL|O_NOFOLLOW by FileWriter,
// fsynced on close), renamed into place only when everything succeeded (without
// --force never over anything, with it only over regular files), and the folders
// fsynced. A signal or an error leaves no temporary and no created folder behind.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ckptconv::core {

/** True for a name this tool gives its temporaries (".<name>.ckptconv-tmp-<pid>-<random>"). */
bool is_ckptconv_temporary(const std::string& name);

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
    /**
     * Refuses (Error OutputError) a `folder` that exists and is not empty (a killed
     * run's temporaries do not count), unless forced; and always one that holds an input.
     */
    void require_empty_folder(const std::filesystem::path& folder) const;
    /** With force: a file of the output being replaced (an old shard) to remove once committed. */
    void retire(const std::filesystem::path& old_output);
    bool force() const { return force_; }
    /** Creates missing folders up to `dir`; the ones it created are removed again on rollback. */
    void make_dirs(const std::filesystem::path& dir);
    /** Renames every staged file to its target (replacing old ones only with force). */
    void commit();
    const std::vector<std::filesystem::path>& targets() const { return targets_; }

  private:
    void refuse_inputs(const std::filesystem::path& target) const;
    void sweep_stale_temps(const std::filesystem::path& target) const;

    bool force_;
    std::vector<std::filesystem::path> inputs_;
    std::vector<std::filesystem::path> targets_;
    std::vector<std::filesystem::path> temps_;
    std::vector<std::filesystem::path> created_dirs_; ///< outermost first
    std::vector<std::filesystem::path> retired_;
    std::vector<size_t> temp_slots_; ///< FaultGuard slots, so a signal removes them too
    std::vector<size_t> dir_slots_;
    bool committed_ = false;
};

} // namespace ckptconv::core
