#include "core/util/Log.hpp"

#include <atomic>
#include <cstdio>

namespace ckptconv::core {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Warning};
}

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, const std::string& message) {
    if (level < g_level.load()) return;
    std::fprintf(stderr, "%s%s\n", level == LogLevel::Warning ? "warning: " : "ckptconv: ", message.c_str());
}

} // namespace ckptconv::core
