#include "core/util/MappedFile.hpp"

#include "core/util/Error.hpp"
#include "core/util/FaultGuard.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ckptconv::core {

void MappedFile::refuse_kind(unsigned mode) const {
    const char* kind = S_ISFIFO(mode)                   ? "a FIFO"
                       : S_ISSOCK(mode)                 ? "a socket"
                       : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                       : S_ISDIR(mode)                  ? "a folder"
                                                        : "not a regular file";
    throw bad_input(path_, std::string("is ") + kind + "; only regular files are read");
}

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
    // Judged before opening (a socket cannot be opened, a FIFO would wait for a writer) and
    // again after (the name may have been swapped in between): only regular files are read.
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) refuse_kind(st.st_mode);
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw bad_input(path_, std::string("cannot open: ") + std::strerror(errno));
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        refuse_kind(st.st_mode);
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw bad_input(path_, std::string("cannot map: ") + std::strerror(err));
        }
        data_ = static_cast<const uint8_t*>(p);
        fault_slot_ = register_mapping(data_, size_, path_); // a SIGBUS here names this file
    }
    ::close(fd);
}

MappedFile::~MappedFile() {
    if (!data_) return;
    unregister_mapping(fault_slot_);
    ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::string_view MappedFile::slice(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > size_ || length > size_ - offset)
        throw bad_input(path_, std::string(what) + " lies outside the file (offset " + std::to_string(offset) +
                                   ", length " + std::to_string(length) + ", file size " + std::to_string(size_) + ")");
    return {reinterpret_cast<const char*>(data_) + offset, static_cast<size_t>(length)};
}

void MappedFile::release(uint64_t offset, uint64_t length) const {
    if (!data_ || offset >= size_) return;
    constexpr uint64_t kWindow = uint64_t{2} << 20; // the PMD size: the largest folio a fault maps
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = offset / kWindow * kWindow; // the mapping starts page- (and so window-) relative at 0
    const uint64_t last = offset + std::min(length, size_ - offset);
    const uint64_t end = std::min((last + kWindow - 1) / kWindow * kWindow, (size_ + page - 1) / page * page);
    if (end > begin) ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

} // namespace ckptconv::core
