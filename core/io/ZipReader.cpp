#include "core/io/ZipReader.hpp"

#include "core/util/Error.hpp"

#include <zlib.h>

#include <algorithm>

namespace ckptconv::core {
namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kMaxInflatedRecord = uint64_t{1} << 28; // 256 MiB: data.pkl of a million-tensor model fits

uint64_t rd(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
}

} // namespace

ZipReader::ZipReader(const MappedFile& file) : file_(file) { parse(); }

void ZipReader::parse() {
    const uint8_t* base = file_.data();
    const uint64_t size = file_.size();
    const std::string& path = file_.path();
    if (size < 22) throw bad_input(path, "truncated zip: no end-of-central-directory record");

    // The EOCD record is the last 22 bytes plus a comment of up to 65535 bytes.
    uint64_t eocd = UINT64_MAX;
    const uint64_t lowest = size >= 22 + 65535 ? size - 22 - 65535 : 0;
    for (uint64_t p = size - 22 + 1; p-- > lowest;) {
        if (rd(base + p, 4) == kEocdSig && p + 22 + rd(base + p + 20, 2) == size) {
            eocd = p;
            break;
        }
    }
    if (eocd == UINT64_MAX)
        throw bad_input(path, "truncated or corrupt zip: end-of-central-directory record not found");

    uint64_t count = rd(base + eocd + 10, 2);
    uint64_t cd_size = rd(base + eocd + 12, 4);
    uint64_t cd_offset = rd(base + eocd + 16, 4);
    if (eocd >= 20 && rd(base + eocd - 20, 4) == kZip64LocatorSig) {
        const uint64_t z64 = rd(base + eocd - 20 + 8, 8);
        if (z64 > size || size - z64 < 56 || rd(base + z64, 4) != kZip64EocdSig)
            throw bad_input(path, "corrupt zip: zip64 end-of-central-directory record not where its locator says");
        count = rd(base + z64 + 32, 8);
        cd_size = rd(base + z64 + 40, 8);
        cd_offset = rd(base + z64 + 48, 8);
    }
    if (cd_offset > size || cd_size > size - cd_offset)
        throw bad_input(path, "truncated zip: central directory lies outside the file");
    if (count > cd_size / 46) throw bad_input(path, "corrupt zip: central directory too small for its entry count");

    entries_.reserve(static_cast<size_t>(count));
    uint64_t p = cd_offset;
    const uint64_t cd_end = cd_offset + cd_size;
    for (uint64_t i = 0; i < count; ++i) {
        if (cd_end - p < 46 || rd(base + p, 4) != kCentralSig)
            throw bad_input(path, "corrupt zip: bad central directory entry " + std::to_string(i));
        ZipEntry e;
        e.method = static_cast<uint16_t>(rd(base + p + 10, 2));
        e.crc32 = static_cast<uint32_t>(rd(base + p + 16, 4));
        e.compressed_size = rd(base + p + 20, 4);
        e.size = rd(base + p + 24, 4);
        const uint64_t name_len = rd(base + p + 28, 2);
        const uint64_t extra_len = rd(base + p + 30, 2);
        const uint64_t comment_len = rd(base + p + 32, 2);
        e.local_header_offset = rd(base + p + 42, 4);
        if (cd_end - p - 46 < name_len + extra_len + comment_len)
            throw bad_input(path,
                            "corrupt zip: central directory entry " + std::to_string(i) + " overruns the directory");
        e.name.assign(reinterpret_cast<const char*>(base + p + 46), name_len);
        // Zip64 extra field: the 64-bit values present are those whose 32-bit field is all ones.
        const uint8_t* x = base + p + 46 + name_len;
        for (uint64_t off = 0; off + 4 <= extra_len;) {
            const uint64_t id = rd(x + off, 2);
            const uint64_t len = rd(x + off + 2, 2);
            if (off + 4 + len > extra_len) break;
            if (id == 0x0001) {
                const uint8_t* f = x + off + 4;
                uint64_t used = 0;
                auto next = [&](uint64_t& field) {
                    if (field == 0xFFFFFFFFu && used + 8 <= len) {
                        field = rd(f + used, 8);
                        used += 8;
                    }
                };
                next(e.size);
                next(e.compressed_size);
                next(e.local_header_offset);
            }
            off += 4 + len;
        }
        p += 46 + name_len + extra_len + comment_len;

        const uint64_t lh = e.local_header_offset;
        if (lh > size || size - lh < 30 || rd(base + lh, 4) != kLocalSig)
            throw bad_input(path, "corrupt zip: local header of '" + e.name + "' not found");
        e.data_offset = lh + 30 + rd(base + lh + 26, 2) + rd(base + lh + 28, 2);
        file_.release(lh, 30); // local headers are scattered over the whole file
        if (e.data_offset > size || e.compressed_size > size - e.data_offset)
            throw bad_input(path, "truncated zip: data of '" + e.name + "' lies outside the file");
        if (e.method != 0 && e.method != 8)
            throw bad_input(path, "zip entry '" + e.name + "' uses compression method " + std::to_string(e.method) +
                                      " (only stored and deflate are supported)");
        by_name_.emplace(e.name, entries_.size());
        entries_.push_back(std::move(e));
    }
}

const ZipEntry* ZipReader::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::string_view ZipReader::stored_data(const ZipEntry& entry) const {
    if (entry.method != 0)
        throw bad_input(file_.path(), "zip entry '" + entry.name + "' is compressed; tensor data must be stored");
    return file_.slice(entry.data_offset, entry.compressed_size, entry.name.c_str());
}

std::string ZipReader::read(const ZipEntry& entry) const {
    std::string out;
    const std::string_view raw = file_.slice(entry.data_offset, entry.compressed_size, entry.name.c_str());
    if (entry.method == 0) {
        out.assign(raw);
    } else {
        // Inflated in steps, the buffer growing only as bytes really arrive, up to the declared
        // size and never past the cap: a directory that lies cannot make us allocate first.
        if (entry.size > kMaxInflatedRecord)
            throw bad_input(file_.path(), "zip entry '" + entry.name + "' inflates past the " +
                                              std::to_string(kMaxInflatedRecord) + "-byte cap for a record");
        if (entry.size / 1032 > entry.compressed_size) // deflate cannot compress better than 1032:1
            throw bad_input(file_.path(), "corrupt zip: implausible size for deflated entry '" + entry.name + "'");
        z_stream zs{};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw Error(ExitCode::Internal, "zlib inflateInit failed");
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
        zs.avail_in = static_cast<uInt>(std::min<uint64_t>(raw.size(), UINT32_MAX));
        int rc = Z_OK;
        while (rc == Z_OK && out.size() < entry.size) {
            const size_t have = out.size();
            out.resize(static_cast<size_t>(std::min<uint64_t>(entry.size, std::max<uint64_t>(2 * have, 1u << 16))));
            zs.next_out = reinterpret_cast<Bytef*>(out.data() + have);
            zs.avail_out = static_cast<uInt>(out.size() - have);
            rc = inflate(&zs, Z_NO_FLUSH);
            out.resize(have + (out.size() - have - zs.avail_out));
        }
        if (rc == Z_OK && out.size() == entry.size) { // exactly full: the stream must end here
            unsigned char probe = 0;
            zs.next_out = &probe;
            zs.avail_out = 1;
            rc = inflate(&zs, Z_NO_FLUSH);
            if (zs.avail_out == 0) rc = Z_DATA_ERROR; // more bytes than declared
        }
        inflateEnd(&zs);
        if (rc != Z_STREAM_END || out.size() != entry.size)
            throw bad_input(file_.path(), "corrupt zip: cannot inflate '" + entry.name + "' to its declared " +
                                              std::to_string(entry.size) + " bytes");
    }
    const uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(out.data()), out.size());
    // torch can be told to skip CRCs (set_crc32_options(False)), which leaves 0 in the directory.
    if (entry.crc32 != 0 && crc != entry.crc32)
        throw bad_input(file_.path(), "corrupt zip: CRC mismatch in '" + entry.name + "'");
    return out;
}

} // namespace ckptconv::core
