// Central-directory reader for the zip container torch.save writes (zip64 aware).
#pragma once

#include "core/util/MappedFile.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ckptconv::core {

struct ZipEntry {
    std::string name;
    uint16_t method = 0; ///< 0 stored, 8 deflate
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
    uint64_t data_offset = 0; ///< first byte of the entry's data in the file
};

class ZipReader {
  public:
    /** Parses the central directory of `file` (kept by reference); throws BadInput. */
    explicit ZipReader(const MappedFile& file);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    const ZipEntry* find(std::string_view name) const;

    /** The bytes of a stored entry, straight from the mapping (no copy). */
    std::string_view stored_data(const ZipEntry& entry) const;
    /** The bytes of a stored or deflated entry, CRC-checked; for small records like data.pkl. */
    std::string read(const ZipEntry& entry) const;

  private:
    void parse();
    const MappedFile& file_;
    std::vector<ZipEntry> entries_;
    std::unordered_map<std::string, size_t> by_name_;
};

} // namespace ckptconv::core
