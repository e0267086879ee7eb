#include "core/io/ZipWriter.hpp"

#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"

#include <zlib.h>

namespace ckptconv::core {
namespace {

constexpr uint64_t kAlignment = 64;
constexpr uint64_t k32 = 0xFFFFFFFFu;
constexpr uint16_t kDosDate = 0x0021; // 1980-01-01

void le(std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t crc_of(const uint8_t* data, uint64_t size) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    return static_cast<uint32_t>(crc32_z(crc, data, static_cast<z_size_t>(size)));
}

} // namespace

uint64_t ZipWriter::begin(const std::string& name, uint64_t size) {
    Entry e;
    e.name = name;
    e.header_offset = out_.position();
    e.size = size;
    const bool zip64 = size >= k32;
    std::string h;
    le(h, 0x04034b50, 4);
    le(h, zip64 ? 45 : 20, 2);
    le(h, 0, 2); // flags: sizes and CRC are in this header (the CRC is patched in after the data)
    le(h, 0, 2); // stored
    le(h, 0, 2);
    le(h, kDosDate, 2);
    le(h, 0, 4); // CRC placeholder at +14
    le(h, zip64 ? k32 : size, 4);
    le(h, zip64 ? k32 : size, 4);
    le(h, name.size(), 2);
    std::string extra;
    if (zip64) {
        le(extra, 0x0001, 2);
        le(extra, 16, 2);
        le(extra, size, 8);
        le(extra, size, 8);
    }
    // 'FB' padding extra field so the data starts on a 64-byte boundary, as torch.save does.
    const uint64_t before_pad = e.header_offset + 30 + name.size() + extra.size() + 4;
    const uint64_t pad = (kAlignment - before_pad % kAlignment) % kAlignment;
    le(extra, 0x4246, 2);
    le(extra, pad, 2);
    extra.append(static_cast<size_t>(pad), 'Z');
    le(h, extra.size(), 2);
    h += name;
    h += extra;
    out_.write(h);
    entries_.push_back(std::move(e));
    return entries_.back().header_offset;
}

void ZipWriter::end(uint32_t crc) {
    Entry& e = entries_.back();
    e.crc = crc;
    uint8_t bytes[4] = {static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc >> 16),
                        static_cast<uint8_t>(crc >> 24)};
    out_.patch(e.header_offset + 14, bytes, 4);
}

void ZipWriter::add(const std::string& name, std::string_view bytes) {
    begin(name, bytes.size());
    out_.write(bytes);
    end(crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

void ZipWriter::add_copy(const std::string& name, const MappedFile& source, uint64_t offset, uint64_t length) {
    source.slice(offset, length, name.c_str()); // bounds check before anything is written
    begin(name, length);
    // The CRC is folded on both cores from the write buffers, while the bytes are in cache.
    out_.track_crc(true);
    out_.copy_from(source, offset, length);
    out_.track_crc(false);
    end(out_.crc());
}

void ZipWriter::add_stream(const std::string& name, uint64_t size, const std::function<void(FileWriter&)>& produce) {
    begin(name, size);
    const uint64_t start = out_.position();
    out_.track_crc(true);
    produce(out_);
    out_.track_crc(false);
    if (out_.position() - start != size)
        throw Error(ExitCode::Internal, "record " + name + " produced " + std::to_string(out_.position() - start) +
                                            " bytes, expected " + std::to_string(size));
    end(out_.crc());
}

void ZipWriter::finish() {
    const uint64_t cd_offset = out_.position();
    std::string cd;
    for (const auto& e : entries_) {
        const bool big_size = e.size >= k32;
        const bool big_offset = e.header_offset >= k32;
        std::string extra;
        if (big_size || big_offset) {
            le(extra, 0x0001, 2);
            le(extra, (big_size ? 16 : 0) + (big_offset ? 8 : 0), 2);
            if (big_size) {
                le(extra, e.size, 8);
                le(extra, e.size, 8);
            }
            if (big_offset) le(extra, e.header_offset, 8);
        }
        le(cd, 0x02014b50, 4);
        le(cd, 45, 2);
        le(cd, big_size || big_offset ? 45 : 20, 2);
        le(cd, 0, 2);
        le(cd, 0, 2);
        le(cd, 0, 2);
        le(cd, kDosDate, 2);
        le(cd, e.crc, 4);
        le(cd, big_size ? k32 : e.size, 4);
        le(cd, big_size ? k32 : e.size, 4);
        le(cd, e.name.size(), 2);
        le(cd, extra.size(), 2);
        le(cd, 0, 2);
        le(cd, 0, 2);
        le(cd, 0, 2);
        le(cd, 0, 4);
        le(cd, big_offset ? k32 : e.header_offset, 4);
        cd += e.name;
        cd += extra;
    }
    out_.write(cd);
    const uint64_t z64_offset = out_.position();
    const uint64_t n = entries_.size();
    std::string tail;
    le(tail, 0x06064b50, 4); // zip64 end of central directory, always present (torch writes it too)
    le(tail, 44, 8);
    le(tail, 45, 2);
    le(tail, 45, 2);
    le(tail, 0, 4);
    le(tail, 0, 4);
    le(tail, n, 8);
    le(tail, n, 8);
    le(tail, cd.size(), 8);
    le(tail, cd_offset, 8);
    le(tail, 0x07064b50, 4);
    le(tail, 0, 4);
    le(tail, z64_offset, 8);
    le(tail, 1, 4);
    le(tail, 0x06054b50, 4);
    le(tail, 0, 2);
    le(tail, 0, 2);
    le(tail, n >= 0xFFFF ? 0xFFFF : n, 2);
    le(tail, n >= 0xFFFF ? 0xFFFF : n, 2);
    le(tail, cd.size() >= k32 ? k32 : cd.size(), 4);
    le(tail, cd_offset >= k32 ? k32 : cd_offset, 4);
    le(tail, 0, 2);
    out_.write(tail);
}

} // namespace ckptconv::core
