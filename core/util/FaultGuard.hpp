// What a dying process must still do: remove the temporaries and folders this
// run created when SIGINT/SIGTERM/SIGHUP arrive, and turn SIGBUS from an input
// that shrank under its mapping into a named error. Everything the signal
// handlers touch is async-signal-safe: fixed slots, atomics, unlink, rmdir, write.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ckptconv::core {

/** Installs the handlers (once, at start-up). SIGINT/SIGTERM/SIGHUP exit 130/143/129, SIGBUS exits 3. */
void install_fault_handlers();

/** A path to remove if a signal ends the run; returns its slot for forget_on_fault. */
size_t remove_on_fault(const std::string& path, bool is_folder);
/** The path became an output (or was removed): a signal must leave it alone. */
void forget_on_fault(size_t slot);

/** Announces a read-only mapping, so a SIGBUS inside it can name the file. */
size_t register_mapping(const void* begin, uint64_t length, const std::string& path);
void unregister_mapping(size_t slot);

/** Blocks the three termination signals for as long as it lives (a commit runs whole). */
class TerminationSignalsBlocked {
  public:
    TerminationSignalsBlocked();
    ~TerminationSignalsBlocked();
    TerminationSignalsBlocked(const TerminationSignalsBlocked&) = delete;
    TerminationSignalsBlocked& operator=(const TerminationSignalsBlocked&) = delete;

  private:
    sigset_t old_;
};

} // namespace ckptconv::core
