#include "core/io/RunSpans.hpp"

#include "core/io/FileWriter.hpp"
#include "core/io/FloatRounding.hpp"
#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace ckptconv::core {

/** pread of a mapped file's ranges (falling back to the mapping where the file cannot be opened again). */
class RunSpans::FileReader {
  public:
    explicit FileReader(const MappedFile* file)
        : file_(file), fd_(::open(file->path().c_str(), O_RDONLY | O_CLOEXEC)) {}
    ~FileReader() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileReader(const FileReader&) = delete;
    FileReader& operator=(const FileReader&) = delete;

    const char* read(uint64_t offset, uint64_t length, char* buffer) const {
        const std::string_view mapped = file_->slice(offset, length, "tensor data"); // bounds checked here
        for (uint64_t done = 0; fd_ >= 0 && done < length;) {
            const ssize_t n = ::pread(fd_, buffer + done, length - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw bad_input(file_->path(), "file ended or failed while being read (was it truncated?)");
            done += static_cast<uint64_t>(n);
        }
        return fd_ >= 0 ? buffer : mapped.data();
    }

  private:
    const MappedFile* file_;
    int fd_;
};

RunSpans::RunSpans(const std::vector<ByteRun>& runs) : runs_(runs) {
    uint64_t start = 0;
    for (const ByteRun& r : runs) {
        starts_.push_back(start);
        start += r.length;
    }
}

RunSpans::~RunSpans() = default;
RunSpans::RunSpans(RunSpans&&) noexcept = default;

void RunSpans::read(uint64_t begin, uint64_t length, char* out) {
    size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) - 1;
    for (; length > 0; ++i) {
        const ByteRun& r = runs_.at(i);
        const uint64_t skip = begin - starts_[i];
        const uint64_t n = std::min(length, r.length - skip);
        if (r.file) {
            auto& reader = readers_[r.file];
            if (!reader) reader = std::make_unique<FileReader>(r.file);
            const char* data = reader->read(r.offset + skip, n, out);
            if (data != out) std::memcpy(out, data, n);
        } else if (r.memory) {
            std::memcpy(out, r.memory + r.offset + skip, n);
        } else {
            std::memset(out, 0, n);
        }
        out += n;
        begin += n;
        length -= n;
    }
}

namespace {
// Elements converted per block: 128-256 KB in and out, in cache.
constexpr uint64_t kCastBlock = uint64_t{1} << 16;
} // namespace

void write_converted(const std::vector<ByteRun>& runs, DType from, DType to, FileWriter& out) {
    const uint32_t in_size = element_size(from), out_size = element_size(to);
    uint64_t total = 0;
    for (const ByteRun& r : runs) total += r.length / in_size;
    RunSpans sources[2] = {RunSpans(runs), RunSpans(runs)};
    std::vector<char> in[2];
    out.write_made(total * out_size, out_size, [&](unsigned worker, uint64_t begin, uint64_t end, char* to_bytes) {
        in[worker].resize(kCastBlock * in_size);
        for (uint64_t e = begin / out_size; e < end / out_size; e += kCastBlock) {
            const uint64_t n = std::min(kCastBlock, end / out_size - e);
            sources[worker].read(e * in_size, n * in_size, in[worker].data());
            convert_floats(from, to, in[worker].data(), to_bytes + (e * out_size - begin), n);
        }
    });
}

} // namespace ckptconv::core
