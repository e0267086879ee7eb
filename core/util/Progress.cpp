#include "core/util/Progress.hpp"

#include <chrono>
#include <cstdio>

namespace ckptconv::core {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
    bool enabled = false;
    uint64_t total = 0;
    uint64_t done = 0;
    Clock::time_point start;
    Clock::time_point last_draw;
} g_progress;

std::string bytes_text(double b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
    return buf;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void draw() {
    std::fprintf(stderr, "\r%s\033[K",
                 progress_line(g_progress.done, g_progress.total, seconds_since(g_progress.start)).c_str());
    std::fflush(stderr);
    g_progress.last_draw = Clock::now();
}

} // namespace

std::string progress_line(uint64_t done, uint64_t total, double elapsed) {
    if (done > total) done = total; // container headers are written too; never show more than planned
    std::string line = "  " + bytes_text(static_cast<double>(done)) + " / " + bytes_text(static_cast<double>(total));
    char buf[64];
    if (total > 0) {
        std::snprintf(buf, sizeof buf, "  %3.0f%%", 100.0 * static_cast<double>(done) / static_cast<double>(total));
        line += buf;
    }
    if (elapsed > 0 && done > 0) {
        const double rate = static_cast<double>(done) / elapsed;
        line += "  " + bytes_text(rate) + "/s";
        if (total > done) {
            std::snprintf(buf, sizeof buf, "  ETA %.0f s", static_cast<double>(total - done) / rate);
            line += buf;
        }
    }
    return line;
}

void progress_start(uint64_t total_bytes, bool enabled) {
    g_progress = State{enabled, total_bytes, 0, Clock::now(), Clock::now()};
}

void progress_add(uint64_t bytes) {
    if (!g_progress.enabled) return;
    g_progress.done += bytes;
    if (seconds_since(g_progress.last_draw) >= 0.2) draw();
}

void progress_finish() {
    if (!g_progress.enabled) return;
    draw();
    std::fputc('\n', stderr);
    g_progress.enabled = false;
}

} // namespace ckptconv::core
