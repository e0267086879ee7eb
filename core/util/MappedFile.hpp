// A read-only memory mapping of a whole file; the bytes stay valid while it lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ckptconv::core {

class MappedFile {
  public:
    /**
     * Maps `path` read-only; throws Error(BadInput) naming the file on failure
     * and for anything but a regular file (a FIFO is refused, never waited on).
     * If the file shrinks while mapped, touching a lost page ends the process
     * with exit 3 and a message naming it (FaultGuard), never a bare SIGBUS.
     */
    explicit MappedFile(std::string path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return path_; }
    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }

    /** Bytes [offset, offset+length), or a BadInput error if they lie outside the file. */
    std::string_view slice(uint64_t offset, uint64_t length, const char* what) const;

    /**
     * Drops from this process's resident set the pages of every 2 MiB window
     * that [offset, offset+length) touches (they stay in the page cache; the
     * bytes remain readable). A read of a few bytes maps a whole large folio of
     * the page cache (up to 2 MiB on current kernels), so dropping only the
     * range itself would leave a folio per small record mapped: readers and
     * writers call this after each record they touched, and one pass over a
     * huge file keeps a bounded RSS.
     */
    void release(uint64_t offset, uint64_t length) const;

  private:
    [[noreturn]] void refuse_kind(unsigned mode) const;

    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    size_t fault_slot_ = 0;
};

} // namespace ckptconv::core
