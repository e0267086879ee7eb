// Page-aligned buffers written to their file offsets by a background thread, so that making the next
// buffer's bytes overlaps the device writing the last one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace ckptconv::core {

class WriteBehind {
  public:
    /// Bytes per buffer: a multiple of every block size O_DIRECT asks for, large enough that the device
    /// sees big requests.
    static constexpr uint64_t kBufferSize = uint64_t{4} << 20;

    explicit WriteBehind(int fd);
    /** Drops the writes still queued (the caller drained them, or is failing) and stops the thread. */
    ~WriteBehind();
    WriteBehind(const WriteBehind&) = delete;
    WriteBehind& operator=(const WriteBehind&) = delete;

    /** A buffer no write is using: waits while all are queued. */
    char* acquire();
    /**
     * Queues `length` bytes of an acquired buffer for writing at `offset`; the buffer returns to the pool
     * after. Returns the errno of a write that already failed (so the caller stops early), or 0.
     */
    int submit(char* buffer, uint64_t offset, uint64_t length);
    /** Waits until every queued write is done; the errno of the first that failed, or 0. */
    int drain();

  private:
    struct Job {
        char* buffer;
        uint64_t offset;
        uint64_t length;
    };
    void run();
    int write_job(const Job& job);

    int fd_;
    std::vector<char*> buffers_;
    std::vector<char*> free_;
    std::deque<Job> queue_;
    int error_ = 0;
    bool busy_ = false;
    bool stopping_ = false;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::thread thread_;
};

} // namespace ckptconv::core
