#include "core/io/FileWriter.hpp"

#include "core/io/WriteBehind.hpp"
#include "core/util/Error.hpp"
#include "core/util/FaultGuard.hpp"
#include "core/util/MappedFile.hpp"
#include "core/util/Progress.hpp"
#include "core/util/SecondCore.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace ckptconv::core {
namespace {
constexpr uint64_t kCopyChunk = 1u << 30;
constexpr uint64_t kReleaseChunk = 64u << 20; // mapped bytes read before they are released from the RSS
constexpr uint64_t kFromMapping = 1u << 20;   // runs below this are copied from the mapping
constexpr uint64_t kSplitStep = 256u << 10;   // steps from this size on are made by both cores

std::atomic<bool> through_cache{false};

uint32_t crc_of(const char* data, uint64_t size) {
    return static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(data), static_cast<z_size_t>(size)));
}

// Reads [offset, offset + length) of `fd` into `out`; `source` names the file in errors.
void read_exactly(int fd, const std::string& source, uint64_t offset, uint64_t length, char* out) {
    for (uint64_t done = 0; done < length;) {
        const ssize_t n =
            ::pread(fd, out + done, static_cast<size_t>(length - done), static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw bad_input(source, std::string("read failed: ") + std::strerror(errno));
        if (n == 0) throw bad_input(source, "file ended while being copied (was it truncated?)");
        done += static_cast<uint64_t>(n);
    }
}

/** An open read-only descriptor, closed when it goes. */
struct ReadFd {
    explicit ReadFd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
    ~ReadFd() {
        if (fd >= 0) ::close(fd);
    }
    ReadFd(const ReadFd&) = delete;
    ReadFd& operator=(const ReadFd&) = delete;
    int fd;
};
} // namespace

void write_outputs_through_cache(bool on) { through_cache = on; }

FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
    // Exclusive and never through a symlink: a file planted at this name is refused, not overwritten.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create", errno);
    // Past the page cache: copying every byte into cache pages cost more kernel time than the whole
    // conversion (3.4 GB: 10-15 s of system time buffered, 1 s direct). Where O_DIRECT is refused the
    // same writes go through the cache.
    set_direct(!through_cache);
    behind_ = std::make_unique<WriteBehind>(fd_);
    second_core_ = std::make_unique<SecondCore>();
}

FileWriter::~FileWriter() {
    behind_.reset(); // stops the writes still queued before the descriptor goes
    if (fd_ >= 0) ::close(fd_);
}

void FileWriter::fail(const char* what, int err) const {
    throw Error(ExitCode::OutputError, path_ + ": " + what + ": " + std::strerror(err));
}

void FileWriter::set_direct(bool on) {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT);
}

bool FileWriter::bypasses_cache() const {
    const int flags = ::fcntl(fd_, F_GETFL);
    return flags >= 0 && (flags & O_DIRECT) != 0;
}

void FileWriter::pwrite_all(const char* data, uint64_t size, uint64_t offset) const {
    for (uint64_t done = 0; done < size;) {
        const ssize_t n =
            ::pwrite(fd_, data + done, static_cast<size_t>(size - done), static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write failed", n < 0 ? errno : EIO);
        done += static_cast<uint64_t>(n);
    }
}

char* FileWriter::room(uint64_t& available) {
    if (!buffer_) buffer_ = behind_->acquire();
    available = WriteBehind::kBufferSize - filled_;
    return buffer_ + filled_;
}

void FileWriter::advance(uint64_t n) {
    filled_ += n;
    progress_add(n);
    if (filled_ < WriteBehind::kBufferSize) return;
    const int err = behind_->submit(buffer_, buffer_start_, filled_);
    buffer_ = nullptr;
    buffer_start_ += filled_;
    filled_ = 0;
    if (err != 0) fail("write failed", err); // e.g. the disk is full: stop making bytes nobody will keep
}

void FileWriter::track_crc(bool on) {
    if (on) crc_ = 0;
    tracking_ = on;
}

void FileWriter::write(const void* data, uint64_t size) {
    const char* p = static_cast<const char*>(data);
    if (tracking_)
        crc_ = static_cast<uint32_t>(crc32_z(crc_, reinterpret_cast<const Bytef*>(p), static_cast<z_size_t>(size)));
    while (size > 0) {
        uint64_t available = 0;
        char* to = room(available);
        const uint64_t n = std::min(size, available);
        std::memcpy(to, p, n);
        p += n;
        size -= n;
        advance(n);
    }
}

void FileWriter::zeros(uint64_t count) {
    const bool tracking = tracking_;
    while (count > 0) {
        uint64_t available = 0;
        char* to = room(available);
        const uint64_t n = std::min(count, available);
        std::memset(to, 0, n);
        if (tracking) crc_ = static_cast<uint32_t>(crc32_combine(crc_, crc_of(to, n), static_cast<z_off_t>(n)));
        count -= n;
        advance(n);
    }
}

void FileWriter::write_made(uint64_t length, uint64_t grain, const PartMaker& make) {
    grain = std::max<uint64_t>(grain, 1);
    for (uint64_t done = 0; done < length;) {
        uint64_t available = 0;
        char* to = room(available);
        const uint64_t step = std::min(length - done, available) / grain * grain;
        if (step == 0) { // an element straddles the buffer's end: made aside, then written across it
            std::vector<char> unit(static_cast<size_t>(std::min(grain, length - done)));
            make(0, done, done + unit.size(), unit.data());
            write(unit.data(), unit.size());
            done += unit.size();
            continue;
        }
        const uint64_t half = step >= kSplitStep ? step / 2 / grain * grain : 0;
        uint32_t crcs[2] = {0, 0};
        auto part = [&](unsigned worker, uint64_t begin, uint64_t end) {
            make(worker, done + begin, done + end, to + begin);
            if (tracking_) crcs[worker] = crc_of(to + begin, end - begin); // while the bytes are in cache
        };
        if (half == 0)
            part(0, 0, step);
        else
            second_core_->run([&] { part(0, 0, half); }, [&] { part(1, half, step); });
        if (tracking_) {
            crc_ = static_cast<uint32_t>(crc32_combine(crc_, crcs[0], static_cast<z_off_t>(half > 0 ? half : step)));
            if (half > 0) crc_ = static_cast<uint32_t>(crc32_combine(crc_, crcs[1], static_cast<z_off_t>(step - half)));
        }
        done += step;
        advance(step);
    }
}

void FileWriter::copy_from(const MappedFile& source, uint64_t offset, uint64_t length) {
    if (offset > source.size() || length > source.size() - offset)
        throw bad_input(source.path(), "byte range to copy lies outside the file");
    if (length < kFromMapping) {
        write_from_mapping(source, offset, length);
        return;
    }
    const ReadFd in(source.path());
    if (in.fd < 0) {
        write_from_mapping(source, offset, length);
        return;
    }
    write_made(length, 1, [&](unsigned, uint64_t begin, uint64_t end, char* out) {
        read_exactly(in.fd, source.path(), offset + begin, end - begin, out);
    });
}

void FileWriter::copy_whole_file(const std::string& source, uint64_t length) {
    if (position() != 0) throw Error(ExitCode::Internal, path_ + ": copy_whole_file on a written file");
    const ReadFd in(source);
    if (in.fd < 0) throw bad_input(source, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != length)
        throw bad_input(source, "changed since it was checked (size or type differs)");
    if (::ioctl(fd_, FICLONE, in.fd) == 0) { // shared extents: nothing is copied at all
        buffer_start_ = length;
        progress_add(length);
        return;
    }
    set_direct(false); // copy_file_range splices through the page cache
    uint64_t done = 0;
    while (done < length) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, kCopyChunk));
        const ssize_t n = ::copy_file_range(in.fd, nullptr, fd_, nullptr, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
            break; // not between these files: the copy through the buffers below
        if (n < 0) fail("copy failed", errno);
        if (n == 0) break;
        done += static_cast<uint64_t>(n);
        progress_add(static_cast<uint64_t>(n));
    }
    if (done == 0 && length > 0) {
        write_made(length, 1, [&](unsigned, uint64_t begin, uint64_t end, char* out) {
            read_exactly(in.fd, source, begin, end - begin, out);
        });
        return;
    }
    if (done != length) throw bad_input(source, "file ended while being copied (was it truncated?)");
    buffer_start_ = length;
}

void FileWriter::write_from_mapping(const MappedFile& source, uint64_t offset, uint64_t length) {
    for (uint64_t done = 0; done < length; done += kReleaseChunk) {
        const uint64_t n = std::min(kReleaseChunk, length - done);
        write(source.data() + offset + done, n);
        source.release(offset + done, n); // keep the resident set bounded on huge copies
    }
}

void FileWriter::patch(uint64_t offset, const void* data, uint64_t size) {
    if (offset > position() || size > position() - offset)
        throw Error(ExitCode::Internal, path_ + ": patch past the bytes written");
    const char* p = static_cast<const char*>(data);
    const uint64_t handed_over = offset < buffer_start_ ? std::min(size, buffer_start_ - offset) : 0;
    if (handed_over > 0) patches_.emplace_back(offset, std::string(p, static_cast<size_t>(handed_over)));
    if (handed_over < size)
        std::memcpy(buffer_ + (offset + handed_over - buffer_start_), p + handed_over, size - handed_over);
}

void FileWriter::close() {
    if (fd_ < 0) return;
    if (const int err = behind_->drain()) fail("write failed", err);
    // The tail and the patches are not whole aligned blocks: they go through the cache, after every
    // direct write has ended.
    set_direct(false);
    if (filled_ > 0) pwrite_all(buffer_, filled_, buffer_start_);
    for (const auto& [offset, bytes] : patches_) pwrite_all(bytes.data(), bytes.size(), offset);
    behind_.reset();
    const int fd = fd_;
    fd_ = -1;
    // Durable before it is renamed into place: a power cut must not leave an empty "converted" model.
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        fail("fsync failed", err);
    }
    if (::close(fd) != 0) fail("close failed", errno);
}

} // namespace ckptconv::core
