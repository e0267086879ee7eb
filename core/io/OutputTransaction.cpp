#include "core/io/OutputTransaction.hpp"

#include "core/io/FileWriter.hpp"
#include "core/util/Error.hpp"

#include <algorithm>

#include <unistd.h>

namespace ckptconv::core {
namespace fs = std::filesystem;

OutputTransaction::OutputTransaction(bool force, std::vector<fs::path> inputs)
    : force_(force), inputs_(std::move(inputs)) {}

OutputTransaction::~OutputTransaction() {
    if (committed_) return;
    std::error_code ec;
    for (const auto& t : temps_) fs::remove(t, ec);
    for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec); // only if empty
}

void OutputTransaction::make_dirs(const fs::path& dir) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (!fs::create_directory(*it, ec) && ec)
            throw Error(ExitCode::OutputError, it->string() + ": cannot create folder: " + ec.message());
        created_dirs_.push_back(*it);
    }
}

fs::path OutputTransaction::stage(const fs::path& target) {
    std::error_code ec;
    for (const auto& in : inputs_)
        if (fs::exists(target, ec) && fs::equivalent(target, in, ec))
            throw Error(ExitCode::OutputError,
                        target.string() + ": is an input of this conversion; refusing to overwrite it");
    if (std::find(targets_.begin(), targets_.end(), target) != targets_.end())
        throw Error(ExitCode::OutputError, target.string() + ": would be written twice by this conversion");
    if (fs::exists(target, ec) && !force_)
        throw Error(ExitCode::OutputError, target.string() + ": already exists (pass --force to replace it)");
    if (fs::is_directory(target, ec))
        throw Error(ExitCode::OutputError, target.string() + ": is a folder; expected a file name");
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
        throw Error(ExitCode::OutputError, target.string() + ": folder " + dir.string() + " does not exist");
    const fs::path temp = dir / ("." + target.filename().string() + ".ckptconv-tmp-" + std::to_string(::getpid()));
    targets_.push_back(target);
    temps_.push_back(temp);
    return temp;
}

void OutputTransaction::write_text(const fs::path& target, const std::string& text) {
    FileWriter out(stage(target).string());
    out.write(text);
    out.close();
}

void OutputTransaction::require_empty_folder(const fs::path& folder) const {
    std::error_code ec;
    if (!force_ && fs::exists(folder, ec) && !(fs::is_directory(folder, ec) && fs::is_empty(folder, ec)))
        throw Error(ExitCode::OutputError,
                    folder.string() + ": already exists (pass --force to replace what it holds)");
}

void OutputTransaction::commit() {
    for (size_t i = 0; i < temps_.size(); ++i) {
        std::error_code ec;
        fs::rename(temps_[i], targets_[i], ec);
        if (ec)
            throw Error(ExitCode::OutputError,
                        targets_[i].string() + ": cannot move output into place: " + ec.message());
    }
    committed_ = true;
}

} // namespace ckptconv::core
