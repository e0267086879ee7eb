// Shared helpers for the test suite: corpus paths, running the CLI, in-memory indexes.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ckptconv::test {

/** A file of the committed corpus, e.g. corpus("torch/tied.pt"). */
std::string corpus(const std::string& relative);

struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/** Runs the built ckptconv with `args` (no shell), capturing both streams. */
CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

/** A fresh empty folder under the system temp dir, removed by the destructor. */
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

/** An index of metadata only (no file): each tensor given as key and shape. */
core::CheckpointIndex index_from_keys(const std::string& root,
                                      const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                                      core::DType dtype = core::DType::F16);

} // namespace ckptconv::test
