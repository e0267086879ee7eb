#include "core/util/FaultGuard.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace ckptconv::core {
namespace {

// Fixed slots, so a handler never meets a container being resized. A run stages a few
// files per output; 4096 is far above any real conversion.
constexpr size_t kSlots = 4096;

struct CleanupSlot {
    std::atomic<bool> busy{false};
    std::atomic<const char*> path{nullptr};
    bool folder = false;
};
CleanupSlot g_cleanup[kSlots];
std::atomic<size_t> g_cleanup_used{0};

struct MappingSlot {
    std::atomic<bool> busy{false};
    std::atomic<const char*> path{nullptr};
    std::atomic<uintptr_t> begin{0};
    std::atomic<uint64_t> length{0};
};
MappingSlot g_mappings[kSlots];
std::atomic<size_t> g_mappings_used{0};

void say(const char* text) {
    for (size_t done = 0, n = std::strlen(text); done < n;) {
        const ssize_t w = ::write(STDERR_FILENO, text + done, n - done);
        if (w <= 0) return;
        done += static_cast<size_t>(w);
    }
}

// Newest first: files inside a created folder go before the folder.
void remove_registered() {
    for (size_t i = g_cleanup_used.load(); i-- > 0;) {
        const char* p = g_cleanup[i].path.exchange(nullptr);
        if (!p) continue;
        if (g_cleanup[i].folder)
            ::rmdir(p); // only if empty: a folder that held something before this run is never it
        else
            ::unlink(p);
    }
}

void on_termination(int sig) {
    remove_registered();
    say(sig == SIGINT ? "ckptconv: interrupted; temporary outputs removed\n"
                      : "ckptconv: terminated by a signal; temporary outputs removed\n");
    ::_exit(128 + sig);
}

void on_bus_error(int, siginfo_t* info, void*) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const char* file = nullptr;
    for (size_t i = 0; i < g_mappings_used.load() && !file; ++i) {
        const char* p = g_mappings[i].path.load();
        const uintptr_t b = g_mappings[i].begin.load();
        if (p && addr >= b && addr - b < g_mappings[i].length.load()) file = p;
    }
    remove_registered();
    say("ckptconv: error: ");
    say(file ? file : "an input file");
    say(": the file shrank while it was being read (was it truncated or replaced during the run?)\n");
    ::_exit(3);
}

// A free slot (slots are reused); `used` only grows, so handlers scan every slot ever used.
template <class Slot> size_t claim(Slot (&slots)[kSlots], std::atomic<size_t>& used, const char* what) {
    for (size_t i = 0; i < kSlots; ++i) {
        bool expected = false;
        if (!slots[i].busy.compare_exchange_strong(expected, true)) continue;
        for (size_t u = used.load(); u < i + 1 && !used.compare_exchange_weak(u, i + 1);) {
        }
        return i;
    }
    say(what);
    ::_exit(1);
}

} // namespace

void install_fault_handlers() {
    struct sigaction term {};
    term.sa_handler = on_termination;
    sigemptyset(&term.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&term.sa_mask, s); // one handler at a time
    for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &term, nullptr);
    struct sigaction bus {};
    bus.sa_sigaction = on_bus_error;
    bus.sa_flags = SA_SIGINFO;
    sigemptyset(&bus.sa_mask);
    ::sigaction(SIGBUS, &bus, nullptr);
}

// The path strings are never freed: a handler may be reading one on another thread.
size_t remove_on_fault(const std::string& path, bool is_folder) {
    const size_t slot = claim(g_cleanup, g_cleanup_used, "ckptconv: too many temporary outputs\n");
    g_cleanup[slot].folder = is_folder;
    g_cleanup[slot].path.store(::strdup(path.c_str()));
    return slot;
}

void forget_on_fault(size_t slot) {
    if (slot >= kSlots) return;
    g_cleanup[slot].path.store(nullptr);
    g_cleanup[slot].busy.store(false);
}

size_t register_mapping(const void* begin, uint64_t length, const std::string& path) {
    const size_t slot = claim(g_mappings, g_mappings_used, "ckptconv: too many mapped inputs\n");
    g_mappings[slot].begin.store(reinterpret_cast<uintptr_t>(begin));
    g_mappings[slot].length.store(length);
    g_mappings[slot].path.store(::strdup(path.c_str()));
    return slot;
}

void unregister_mapping(size_t slot) {
    if (slot >= kSlots) return;
    g_mappings[slot].path.store(nullptr);
    g_mappings[slot].busy.store(false);
}

TerminationSignalsBlocked::TerminationSignalsBlocked() {
    sigset_t block;
    sigemptyset(&block);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&block, s);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_);
}

TerminationSignalsBlocked::~TerminationSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

} // namespace ckptconv::core
