// Errors the core raises, each carrying the CLI exit code it maps to.
#pragma once

#include <stdexcept>
#include <string>

namespace ckptconv::core {

/** Process exit codes; scripts rely on them, so values are frozen. */
enum class ExitCode : int {
    Ok = 0,
    Internal = 1,
    Usage = 2,
    BadInput = 3,     ///< unreadable, corrupt or unsafe input
    NoPlugin = 4,     ///< no plugin recognises the input, or detection is ambiguous
    PlanRejected = 5, ///< unmapped source, shape or target mismatch
    OutputError = 6,  ///< output exists without --force, or an I/O failure
    VerifyMismatch = 7,
};

/** An error with a user-facing message (naming file, key and expectation) and an exit code. */
class Error : public std::runtime_error {
  public:
    Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ExitCode code() const noexcept { return code_; }

  private:
    ExitCode code_;
};

/** Corrupt or unsupported input: "<file>: <what>". */
inline Error bad_input(const std::string& file, const std::string& what) {
    return Error(ExitCode::BadInput, file + ": " + what);
}

} // namespace ckptconv::core
