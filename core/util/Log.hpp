// Diagnostics on stderr, filtered by --verbose / --quiet.
#pragma once

#include <string>

namespace ckptconv::core {

enum class LogLevel { Debug = 1, Info = 2, Warning = 3, Silent = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
/** Writes "ckptconv: <message>" (or "warning: ...") to stderr if `level` passes the filter. */
void log(LogLevel level, const std::string& message);

} // namespace ckptconv::core
