#include "core/io/ConfigProvenance.hpp"

#include <cstdio>
#include <vector>

namespace ckptconv::core {
namespace {

constexpr const char* kKey = "_ckptconv";

void append_u(std::string& out, uint32_t unit) { // unit < 0x10000: four hex digits
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04x", unit);
    out += buf;
}

// The next code point of UTF-8 `s` at `i` (advancing it); U+FFFD for a malformed byte.
uint32_t next_code_point(const std::string& s, size_t& i) {
    const auto b = static_cast<uint8_t>(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
        ++i;
        return 0xFFFD;
    }
    uint32_t cp = n == 1 ? b : b & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

// The top-level key of a line "  \"key\": ...", or "" for any other line.
std::string top_level_key(const std::string& line) {
    if (line.size() < 4 || line.compare(0, 3, "  \"") != 0) return {};
    const size_t end = line.find("\": ", 3);
    return end == std::string::npos ? std::string() : line.substr(3, end - 3);
}

} // namespace

std::string python_json_string(const std::string& text) {
    std::string out = "\"";
    for (size_t i = 0; i < text.size();) {
        const uint32_t cp = next_code_point(text, i);
        switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
                append_u(out, cp);
            } else if (cp >= 0x10000) { // a surrogate pair, as Python writes it
                append_u(out, 0xD800 + ((cp - 0x10000) >> 10));
                append_u(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                out.push_back(static_cast<char>(cp));
            }
        }
    }
    return out + "\"";
}

std::string with_config_provenance(const std::string& config, const std::map<std::string, std::string>& provenance) {
    if (provenance.empty() || config.size() < 4 || config.compare(0, 2, "{\n") != 0 ||
        config.compare(config.size() - 2, 2, "}\n") != 0)
        return config;
    std::vector<std::string> lines;
    for (size_t at = 0; at < config.size();) {
        const size_t end = config.find('\n', at);
        lines.push_back(config.substr(at, end - at));
        at = end + 1;
    }
    // Where it goes: before the first top-level key that sorts after it (Python sorts by code point).
    size_t insert = lines.size() - 1; // the closing brace
    for (size_t i = 1; i + 1 < lines.size(); ++i) {
        const std::string key = top_level_key(lines[i]);
        if (key == kKey) return config; // already stamped
        if (!key.empty() && key > kKey) {
            insert = i;
            break;
        }
    }
    std::vector<std::string> block{std::string("  \"") + kKey + "\": {"};
    size_t k = 0;
    for (const auto& [name, value] : provenance) // std::map: sorted, as sort_keys
        block.push_back("    " + python_json_string(name) + ": " + python_json_string(value) +
                        (++k < provenance.size() ? "," : ""));
    block.push_back(std::string("  }") + (insert + 1 < lines.size() ? "," : ""));
    if (insert + 1 == lines.size() && insert > 1) lines[insert - 1] += ","; // it becomes the last member
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(insert), block.begin(), block.end());
    std::string out;
    for (size_t i = 0; i + 1 < lines.size(); ++i) out += lines[i] + "\n";
    return out + lines.back() + "\n";
}

ConfigStamp split_config_provenance(const std::string& config) {
    const std::string open = std::string("\n  \"") + kKey + "\": {\n";
    const size_t begin = config.find(open);
    if (begin == std::string::npos) return {config, ""};
    const size_t close = config.find("\n  }", begin + open.size() - 1); // members are indented by four
    if (close == std::string::npos) return {config, ""};
    size_t end = close + 4; // past "\n  }"
    const bool last = end >= config.size() || config[end] != ',';
    if (!last) ++end; // its comma goes with it
    std::string rest = config.substr(0, begin) + config.substr(end);
    if (last && begin > 0 && rest[begin - 1] == ',') rest.erase(begin - 1, 1); // the member before was not last
    return {rest, config.substr(begin + 1, close + 4 - begin - 1)};
}

} // namespace ckptconv::core
