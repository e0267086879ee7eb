// Sequential writes to one output file through page-aligned buffers that a background thread writes
// with O_DIRECT (where the file system takes it), bytes made or copied into them on both cores.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckptconv::core {

class MappedFile;
class SecondCore;
class WriteBehind;

/**
 * Whether outputs created from now on go through the page cache (`on`) or past it (O_DIRECT, the
 * default). The cache suits file systems whose direct I/O is slow (some network mounts) and outputs
 * read again right away; the default spares this machine's kernel the copy into cache pages.
 */
void write_outputs_through_cache(bool on);

class FileWriter {
  public:
    /**
     * Creates `path`, which must not exist (O_EXCL, never through a symlink);
     * throws Error(OutputError) naming it. close() fsyncs before closing.
     */
    explicit FileWriter(std::string path);
    ~FileWriter();
    FileWriter(const FileWriter&) = delete;
    FileWriter& operator=(const FileWriter&) = delete;

    void write(const void* data, uint64_t size);
    void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
    void zeros(uint64_t count);
    /**
     * Appends `length` bytes of `source` starting at `offset`: small runs from
     * the mapping, large ones read with pread (not the mapping, so the resident
     * set stays small) straight into the write buffers, on both cores.
     */
    void copy_from(const MappedFile& source, uint64_t offset, uint64_t length);
    /**
     * Makes bytes [begin, end) of an appended span into `out`. `worker` (0 or 1) tells the two cores'
     * calls apart, so a maker can keep scratch per core; calls come in buffer-sized steps.
     */
    using PartMaker = std::function<void(unsigned worker, uint64_t begin, uint64_t end, char* out)>;
    /**
     * Appends `length` bytes that `make` produces straight into the write buffers, each buffer's share
     * made on both cores while the device writes the previous one; `grain` keeps cuts on whole elements.
     */
    void write_made(uint64_t length, uint64_t grain, const PartMaker& make);
    /**
     * Makes this (still empty) file a copy of the file at `source`, which must
     * hold `length` bytes: a reflink where the file system shares extents,
     * else copy_file_range (the bytes never enter this process), else
     * pread/pwrite. Error(BadInput) naming `source` when it is not `length` long.
     */
    void copy_whole_file(const std::string& source, uint64_t length);
    /** Overwrites already-appended bytes at `offset` (e.g. a CRC in a zip header). */
    void patch(uint64_t offset, const void* data, uint64_t size);
    /** While on, every byte appended (by any method) is folded into crc(); turning it on restarts it. */
    void track_crc(bool on);
    uint32_t crc() const { return crc_; }
    /** Bytes appended so far. */
    uint64_t position() const { return buffer_start_ + filled_; }
    /** Writes what is left, then fsyncs and closes; errors (disk full...) surface here at the latest. */
    void close();
    const std::string& path() const { return path_; }
    /** True while writes bypass the page cache (O_DIRECT set on the descriptor). */
    bool bypasses_cache() const;

  private:
    char* room(uint64_t& available);
    void advance(uint64_t n);
    void set_direct(bool on);
    void pwrite_all(const char* data, uint64_t size, uint64_t offset) const;
    void write_from_mapping(const MappedFile& source, uint64_t offset, uint64_t length);
    [[noreturn]] void fail(const char* what, int err) const;

    std::string path_;
    int fd_ = -1;
    std::unique_ptr<WriteBehind> behind_;
    std::unique_ptr<SecondCore> second_core_;
    char* buffer_ = nullptr;    ///< the buffer being filled, or none
    uint64_t filled_ = 0;       ///< bytes of it filled
    uint64_t buffer_start_ = 0; ///< the file offset of its first byte
    /// Patches of bytes already handed to the device, applied at close (a zip header's CRC).
    std::vector<std::pair<uint64_t, std::string>> patches_;
    bool tracking_ = false;
    uint32_t crc_ = 0;
};

} // namespace ckptconv::core
