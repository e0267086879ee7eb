#include "core/io/FileWriter.hpp"

#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"
#include "core/util/Progress.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

namespace ckptconv::core {
namespace {
constexpr size_t kBufferSize = 4u << 20;
constexpr uint64_t kCopyChunk = 1u << 30;
constexpr uint64_t kReleaseChunk = 64u << 20; // mapped bytes read before they are released from the RSS
} // namespace

FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create", errno);
    buffer_.reserve(kBufferSize);
}

FileWriter::~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
}

void FileWriter::fail(const char* what, int err) const {
    throw Error(ExitCode::OutputError, path_ + ": " + what + ": " + std::strerror(err));
}

void FileWriter::flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write failed", errno);
        }
        done += static_cast<size_t>(n);
    }
    buffer_.clear();
}

void FileWriter::track_crc(bool on) {
    tracking_ = on;
    crc_ = 0;
}

void FileWriter::write(const void* data, uint64_t size) {
    const char* p = static_cast<const char*>(data);
    progress_add(size);
    if (tracking_)
        crc_ = static_cast<uint32_t>(crc32_z(crc_, reinterpret_cast<const Bytef*>(p), static_cast<z_size_t>(size)));
    position_ += size;
    if (buffer_.size() + size <= kBufferSize) {
        buffer_.insert(buffer_.end(), p, p + size);
        return;
    }
    flush();
    if (size < kBufferSize) {
        buffer_.insert(buffer_.end(), p, p + size);
        return;
    }
    while (size > 0) {
        const ssize_t n = ::write(fd_, p, static_cast<size_t>(std::min<uint64_t>(size, kCopyChunk)));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write failed", errno);
        }
        p += n;
        size -= static_cast<uint64_t>(n);
    }
}

void FileWriter::zeros(uint64_t count) {
    static const char kZeros[4096] = {};
    while (count > 0) {
        const uint64_t n = std::min<uint64_t>(count, sizeof kZeros);
        write(kZeros, n);
        count -= n;
    }
}

void FileWriter::copy_from(const MappedFile& source, uint64_t offset, uint64_t length) {
    if (offset > source.size() || length > source.size() - offset)
        throw bad_input(source.path(), "byte range to copy lies outside the file");
    // Small runs are cheaper through the buffer than through a syscall.
    if (length < (1u << 20) || !kernel_copy_ok_) {
        write_from_mapping(source, offset, length);
        return;
    }
    if (tracking_) { // the bytes never pass through here, so hash them from the mapping
        for (uint64_t done = 0; done < length; done += kReleaseChunk) {
            const uint64_t n = std::min(kReleaseChunk, length - done);
            crc_ = static_cast<uint32_t>(crc32_z(crc_, source.data() + offset + done, static_cast<z_size_t>(n)));
            source.release(offset + done, n);
        }
    }
    flush();
    const int in = ::open(source.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        write(source.data() + offset, length);
        return;
    }
    loff_t in_off = static_cast<loff_t>(offset);
    uint64_t left = length;
    while (left > 0) {
        const ssize_t n =
            ::copy_file_range(in, &in_off, fd_, nullptr, static_cast<size_t>(std::min<uint64_t>(left, kCopyChunk)), 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == ENOSPC || errno == EIO || errno == EDQUOT)) {
                const int err = errno;
                ::close(in);
                fail("write failed", err);
            }
            kernel_copy_ok_ = false; // EXDEV/EINVAL/ENOSYS...: fall back for good
            break;
        }
        left -= static_cast<uint64_t>(n);
    }
    ::close(in);
    position_ += length - left;
    progress_add(length - left);
    if (left > 0) write_from_mapping(source, offset + (length - left), left);
}

void FileWriter::write_from_mapping(const MappedFile& source, uint64_t offset, uint64_t length) {
    for (uint64_t done = 0; done < length; done += kReleaseChunk) {
        const uint64_t n = std::min(kReleaseChunk, length - done);
        write(source.data() + offset + done, n);
        source.release(offset + done, n); // keep the resident set bounded on huge copies
    }
}

void FileWriter::patch(uint64_t offset, const void* data, uint64_t size) {
    if (offset + size > position_ - buffer_.size()) flush();
    if (::pwrite(fd_, data, size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size))
        fail("write failed", errno);
}

void FileWriter::close() {
    if (fd_ < 0) return;
    flush();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close failed", errno);
}

} // namespace ckptconv::core
