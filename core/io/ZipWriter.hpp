// Writes the zip layout torch.save uses: stored entries, data 64-byte aligned, zip64 records.
#pragma once

#include "core/io/FileWriter.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

class ZipWriter {
  public:
    explicit ZipWriter(FileWriter& out) : out_(out) {}

    /** A small record from memory. */
    void add(const std::string& name, std::string_view bytes);
    /** A record copied from `source` [offset, offset+length) (FileWriter::copy_from). */
    void add_copy(const std::string& name, const MappedFile& source, uint64_t offset, uint64_t length);
    /** A record of `size` bytes produced by `produce` (CRC taken as they are written). */
    void add_stream(const std::string& name, uint64_t size, const std::function<void(FileWriter&)>& produce);
    /** Central directory, zip64 end records and the classic end record. */
    void finish();

  private:
    struct Entry {
        std::string name;
        uint64_t header_offset = 0;
        uint64_t size = 0;
        uint32_t crc = 0;
    };
    uint64_t begin(const std::string& name, uint64_t size);
    void end(uint32_t crc);

    FileWriter& out_;
    std::vector<Entry> entries_;
};

} // namespace ckptconv::core
