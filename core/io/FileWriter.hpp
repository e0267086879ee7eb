// Buffered sequential writes to one output file, with large unchanged byte runs copied on both cores.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

class MappedFile;

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
     * Appends `length` bytes of `source` starting at `offset`: small runs
     * through the buffer, large ones read from the file (not the mapping, so
     * the resident set stays small), on both cores unless `both_cores` is
     * false (the caller keeps the other core busy, e.g. with a CRC).
     */
    void copy_from(const MappedFile& source, uint64_t offset, uint64_t length, bool both_cores = true);
    /** Hands a part's bytes to write_in_halves, in order, in pieces of any size. */
    using PartSink = std::function<void(const void* data, uint64_t size)>;
    /** Makes bytes [begin, end) of an appended span and passes them to the sink. */
    using PartMaker = std::function<void(uint64_t begin, uint64_t end, const PartSink& sink)>;
    /**
     * Appends `length` bytes that `make` produces. Large spans (no CRC tracked) are made as two halves,
     * one on each core, each written at its own offset; `grain` keeps the cut on whole elements.
     */
    void write_in_halves(uint64_t length, uint64_t grain, const PartMaker& make);
    /**
     * Makes this (still empty) file a copy of the file at `source`, which must
     * hold `length` bytes: a reflink where the file system shares extents,
     * else copy_file_range (the bytes never enter this process), else
     * pread/pwrite. Error(BadInput) naming `source` when it is not `length` long.
     */
    void copy_whole_file(const std::string& source, uint64_t length);
    /** Overwrites already-written bytes at `offset` (e.g. a CRC in a zip header). */
    void patch(uint64_t offset, const void* data, uint64_t size);
    /** While on, every byte appended (by any method) is folded into crc(). */
    void track_crc(bool on);
    uint32_t crc() const { return crc_; }
    /** Bytes written so far. */
    uint64_t position() const { return position_; }
    /** Flushes and closes; errors (disk full...) surface here at the latest. */
    void close();
    const std::string& path() const { return path_; }

  private:
    void flush();
    void write_from_mapping(const MappedFile& source, uint64_t offset, uint64_t length);
    [[noreturn]] void fail(const char* what, int err) const;

    std::string path_;
    int fd_ = -1;
    uint64_t position_ = 0;
    std::vector<char> buffer_;
    bool tracking_ = false;
    uint32_t crc_ = 0;
};

} // namespace ckptconv::core
