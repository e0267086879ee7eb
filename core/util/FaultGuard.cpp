#include "core/util/FaultGuard.hpp"

#include "core/util/Error.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace ckptconv::core {
namespace {

// Fixed slots holding their paths inline, so a handler never meets a container being
// resized or memory being freed. A run stages a few files per output shard.
constexpr size_t kSlots = 1024;
constexpr size_t kPathMax = 4096;

// `ready` publishes a slot to the handlers only once its path is written.
struct CleanupSlot {
    std::atomic<bool> busy{false};
    std::atomic<bool> ready{false};
    bool folder = false;
    char path[kPathMax];
};
CleanupSlot g_cleanup[kSlots];
std::atomic<size_t> g_cleanup_used{0};

struct MappingSlot {
    std::atomic<bool> busy{false};
    std::atomic<bool> ready{false};
    uintptr_t begin = 0;
    uint64_t length = 0;
    char path[kPathMax];
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
        if (!g_cleanup[i].ready.exchange(false)) continue;
        if (g_cleanup[i].folder)
            ::rmdir(g_cleanup[i].path); // only if empty: a folder that held something before this run is never it
        else
            ::unlink(g_cleanup[i].path);
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
        const MappingSlot& m = g_mappings[i];
        if (m.ready.load() && addr >= m.begin && addr - m.begin < m.length) file = m.path;
    }
    remove_registered();
    say("ckptconv: error: ");
    say(file ? file : "an input file");
    say(": the file shrank while it was being read (was it truncated or replaced during the run?)\n");
    ::_exit(3);
}

// A free slot (slots are reused), or kSlots when all are taken; `used` only grows, so
// handlers scan every slot ever used.
template <class Slot> size_t claim(Slot (&slots)[kSlots], std::atomic<size_t>& used) {
    for (size_t i = 0; i < kSlots; ++i) {
        bool expected = false;
        if (!slots[i].busy.compare_exchange_strong(expected, true)) continue;
        for (size_t u = used.load(); u < i + 1 && !used.compare_exchange_weak(u, i + 1);) {
        }
        return i;
    }
    return kSlots;
}

void copy_path(char (&to)[kPathMax], const std::string& from) {
    const size_t n = std::min(from.size(), kPathMax - 1);
    std::memcpy(to, from.data(), n);
    to[n] = '\0';
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

size_t remove_on_fault(const std::string& path, bool is_folder) {
    if (path.size() >= kPathMax) throw Error(ExitCode::OutputError, path + ": path too long");
    const size_t slot = claim(g_cleanup, g_cleanup_used);
    if (slot == kSlots)
        throw Error(ExitCode::OutputError, path + ": more than " + std::to_string(kSlots) + " outputs in one run");
    g_cleanup[slot].folder = is_folder;
    copy_path(g_cleanup[slot].path, path);
    g_cleanup[slot].ready.store(true);
    return slot;
}

void forget_on_fault(size_t slot) {
    if (slot >= kSlots) return;
    g_cleanup[slot].ready.store(false);
    g_cleanup[slot].busy.store(false);
}

// Past kSlots mappings a SIGBUS still exits 3, naming "an input file" instead.
size_t register_mapping(const void* begin, uint64_t length, const std::string& path) {
    const size_t slot = claim(g_mappings, g_mappings_used);
    if (slot == kSlots) return slot;
    g_mappings[slot].begin = reinterpret_cast<uintptr_t>(begin);
    g_mappings[slot].length = length;
    copy_path(g_mappings[slot].path, path);
    g_mappings[slot].ready.store(true);
    return slot;
}

void unregister_mapping(size_t slot) {
    if (slot >= kSlots) return;
    g_mappings[slot].ready.store(false);
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
