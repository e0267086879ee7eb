#include "core/io/OutputTransaction.hpp"

#include "core/io/FileWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/FaultGuard.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTempMarker = ".ckptconv-tmp-";

// ".<name>.ckptconv-tmp-<pid>-<16 random hex digits>": recognisable, never predictable.
fs::path temp_name(const fs::path& target) {
    static std::mt19937_64 rng{std::random_device{}()};
    char suffix[40];
    std::snprintf(suffix, sizeof suffix, "%d-%016llx", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(rng()));
    return target.parent_path() / ("." + target.filename().string() + kTempMarker + suffix);
}

// The pid inside a temporary's name, or -1 when `name` is not one of ours.
long temp_owner(const std::string& name) {
    const size_t at = name.rfind(kTempMarker);
    if (name.empty() || name[0] != '.' || at == std::string::npos) return -1;
    return std::strtol(name.c_str() + at + std::strlen(kTempMarker), nullptr, 10);
}

// A temporary left by a run that is gone (kill -9, power cut).
bool stale_temp(const std::string& name) {
    const long pid = temp_owner(name);
    return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

fs::path parent_of(const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::path("."); }

void fsync_folder(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// Without force, an output never replaces anything: not even a file created after we checked.
bool rename_no_replace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
    if (errno != EINVAL && errno != ENOSYS) return false;
    // Filesystems without RENAME_NOREPLACE: link refuses an existing target just as well.
    if (::link(from.c_str(), to.c_str()) != 0) return false;
    ::unlink(from.c_str());
    return true;
}

} // namespace

bool is_ckptconv_temporary(const std::string& name) { return temp_owner(name) > 0; }

OutputTransaction::OutputTransaction(bool force, std::vector<fs::path> inputs)
    : force_(force), inputs_(std::move(inputs)) {}

OutputTransaction::~OutputTransaction() {
    if (committed_) return;
    std::error_code ec;
    for (size_t i = 0; i < temps_.size(); ++i) {
        fs::remove(temps_[i], ec);
        forget_on_fault(temp_slots_[i]);
    }
    for (size_t i = created_dirs_.size(); i-- > 0;) {
        fs::remove(created_dirs_[i], ec); // only if empty
        forget_on_fault(dir_slots_[i]);
    }
}

void OutputTransaction::refuse_inputs(const fs::path& target) const {
    std::error_code ec;
    for (const auto& in : inputs_)
        if (fs::exists(target, ec) && fs::equivalent(target, in, ec))
            throw Error(ExitCode::OutputError,
                        target.string() + ": is an input of this conversion; refusing to overwrite it");
}

void OutputTransaction::make_dirs(const fs::path& dir) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        dir_slots_.push_back(remove_on_fault(it->string(), true)); // before it exists: a signal cannot slip in
        if (::mkdir(it->c_str(), 0755) != 0) {
            const int err = errno;
            forget_on_fault(dir_slots_.back());
            dir_slots_.pop_back();
            throw Error(ExitCode::OutputError, it->string() + ": cannot create folder: " + std::strerror(err));
        }
        created_dirs_.push_back(*it);
    }
}

fs::path OutputTransaction::stage(const fs::path& target) {
    std::error_code ec;
    refuse_inputs(target);
    if (std::find(targets_.begin(), targets_.end(), target) != targets_.end())
        throw Error(ExitCode::OutputError, target.string() + ": would be written twice by this conversion");
    struct stat st {};
    const bool exists = ::lstat(target.c_str(), &st) == 0;
    if (exists && !force_)
        throw Error(ExitCode::OutputError, target.string() + ": already exists (pass --force to replace it)");
    if (exists && S_ISDIR(st.st_mode))
        throw Error(ExitCode::OutputError, target.string() + ": is a folder; expected a file name");
    if (exists && !S_ISREG(st.st_mode))
        throw Error(ExitCode::OutputError, target.string() +
                                               ": is not a regular file (a link, device or FIFO); --force replaces "
                                               "only regular files");
    const fs::path dir = parent_of(target);
    if (!fs::is_directory(dir, ec))
        throw Error(ExitCode::OutputError, target.string() + ": folder " + dir.string() + " does not exist");
    sweep_stale_temps(target);
    const fs::path temp = temp_name(target);
    targets_.push_back(target);
    temps_.push_back(temp);
    temp_slots_.push_back(remove_on_fault(temp.string(), false)); // registered before FileWriter creates it
    return temp;
}

void OutputTransaction::sweep_stale_temps(const fs::path& target) const {
    const std::string prefix = "." + target.filename().string() + kTempMarker;
    std::error_code ec;
    for (fs::directory_iterator it(parent_of(target), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) == 0 && stale_temp(name)) fs::remove(it->path(), ec);
    }
}

void OutputTransaction::write_text(const fs::path& target, const std::string& text) {
    FileWriter out(stage(target).string());
    out.write(text);
    out.close();
}

void OutputTransaction::retire(const fs::path& old_output) {
    if (!force_) return;
    refuse_inputs(old_output);
    retired_.push_back(old_output);
}

void OutputTransaction::require_empty_folder(const fs::path& folder) const {
    std::error_code ec;
    for (const auto& in : inputs_) {
        for (fs::path p = fs::absolute(in, ec).parent_path(); !p.empty(); p = p.parent_path()) {
            if (fs::exists(folder, ec) && fs::equivalent(folder, p, ec))
                throw Error(ExitCode::OutputError,
                            folder.string() + ": holds an input of this conversion; choose another output folder");
            if (p == p.parent_path()) break;
        }
    }
    if (!fs::exists(folder, ec) || force_) return;
    if (!fs::is_directory(folder, ec))
        throw Error(ExitCode::OutputError, folder.string() + ": already exists (pass --force to replace it)");
    for (const auto& e : fs::directory_iterator(folder, ec))
        if (!stale_temp(e.path().filename().string())) // a killed run's leftovers do not make it non-empty
            throw Error(ExitCode::OutputError,
                        folder.string() + ": already exists (pass --force to replace what it holds)");
}

void OutputTransaction::commit() {
    const TerminationSignalsBlocked whole; // a signal now waits until every file is in place
    std::vector<fs::path> folders;
    for (size_t i = 0; i < temps_.size(); ++i) {
        const fs::path& target = targets_[i];
        bool moved = false;
        if (force_) {
            struct stat st {};
            if (::lstat(target.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
                throw Error(ExitCode::OutputError,
                            target.string() + ": became something other than a regular file; not replaced");
            moved = ::rename(temps_[i].c_str(), target.c_str()) == 0;
        } else {
            moved = rename_no_replace(temps_[i], target);
            if (!moved && errno == EEXIST)
                throw Error(ExitCode::OutputError,
                            target.string() + ": appeared while converting; not replaced (pass --force to replace it)");
        }
        if (!moved)
            throw Error(ExitCode::OutputError,
                        target.string() + ": cannot move output into place: " + std::strerror(errno));
        forget_on_fault(temp_slots_[i]);
        temp_slots_[i] = SIZE_MAX;
        folders.push_back(parent_of(target));
    }
    for (const auto& old : retired_) {
        struct stat st {};
        if (std::find(targets_.begin(), targets_.end(), old) == targets_.end() && ::lstat(old.c_str(), &st) == 0 &&
            S_ISREG(st.st_mode))
            ::unlink(old.c_str());
    }
    for (const auto& d : created_dirs_) folders.push_back(parent_of(d));
    std::sort(folders.begin(), folders.end());
    folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
    for (const auto& f : folders) fsync_folder(f); // the renames themselves survive a power cut
    for (size_t slot : dir_slots_) forget_on_fault(slot);
    committed_ = true;
}

} // namespace ckptconv::core
