// Bytes laid out as runs of file ranges, constants and zeros: read at any offset with pread, or written
// converted to another float dtype on both cores without a tensor-sized buffer.
#pragma once

#include "core/index/DType.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace ckptconv::core {

class FileWriter;
class MappedFile;

/** One run of row-major bytes: a range of a mapped file, a constant's bytes, or zeros. */
struct ByteRun {
    const MappedFile* file = nullptr; ///< set for a file range
    const char* memory = nullptr;     ///< set for a constant's bytes; neither set: zeros
    uint64_t offset = 0;              ///< into `file` or `memory`
    uint64_t length = 0;
};

/** Any byte span of runs laid end to end, read with pread (each file opened once, the mapping as fallback). */
class RunSpans {
  public:
    explicit RunSpans(const std::vector<ByteRun>& runs);
    ~RunSpans();
    RunSpans(RunSpans&&) noexcept;
    RunSpans(const RunSpans&) = delete;
    RunSpans& operator=(const RunSpans&) = delete;

    /** Bytes [begin, begin + length) into `out`; BadInput naming the file when it was truncated. */
    void read(uint64_t begin, uint64_t length, char* out);

  private:
    class FileReader;
    const std::vector<ByteRun>& runs_;
    std::vector<uint64_t> starts_;
    std::map<const MappedFile*, std::unique_ptr<FileReader>> readers_;
};

/**
 * Appends the runs' values, stored as `from`, converted to `to` (both F32, F16 or BF16): each core converts
 * its share of every write buffer from cache-sized blocks read with pread, so a cast costs about what copying
 * the bytes costs.
 */
void write_converted(const std::vector<ByteRun>& runs, DType from, DType to, FileWriter& out);

} // namespace ckptconv::core
