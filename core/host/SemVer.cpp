#include "core/host/SemVer.hpp"

#include <cctype>
#include <stdexcept>

namespace ckptconv::core {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

} // namespace

std::optional<SemVer> SemVer::parse(std::string_view text) {
    text = trim(text);
    if (const size_t plus = text.find('+'); plus != std::string_view::npos) text = text.substr(0, plus);
    SemVer v;
    if (const size_t dash = text.find('-'); dash != std::string_view::npos) {
        v.prerelease = std::string(text.substr(dash + 1));
        if (v.prerelease.empty()) return std::nullopt;
        text = text.substr(0, dash);
    }
    int* parts[3] = {&v.major, &v.minor, &v.patch};
    size_t part = 0;
    size_t i = 0;
    while (true) {
        if (part == 3 || i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        long value = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            value = value * 10 + (text[i++] - '0');
            if (value > 1'000'000'000) return std::nullopt;
        }
        *parts[part++] = static_cast<int>(value);
        if (i == text.size()) break;
        if (text[i++] != '.') return std::nullopt;
    }
    return v;
}

std::string SemVer::str() const {
    std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    return prerelease.empty() ? s : s + "-" + prerelease;
}

int SemVer::compare(const SemVer& o) const {
    if (major != o.major) return major < o.major ? -1 : 1;
    if (minor != o.minor) return minor < o.minor ? -1 : 1;
    if (patch != o.patch) return patch < o.patch ? -1 : 1;
    if (prerelease == o.prerelease) return 0;
    if (prerelease.empty()) return 1;
    if (o.prerelease.empty()) return -1;
    return prerelease < o.prerelease ? -1 : 1;
}

VersionRange::VersionRange(std::string_view text) : text_(text) {
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        std::string_view part =
            trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        size_t op_len = 0;
        while (op_len < part.size() && std::string_view("<>=^~").find(part[op_len]) != std::string_view::npos) ++op_len;
        std::string op(part.substr(0, op_len));
        if (op.empty() || op == "==") op = "=";
        const auto version = SemVer::parse(part.substr(op_len));
        if (!version || (op != "=" && op != "<" && op != "<=" && op != ">" && op != ">=" && op != "^" && op != "~"))
            throw std::invalid_argument("bad version constraint '" + std::string(part) + "'");
        constraints_.push_back(Constraint{op, *version});
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
}

bool VersionRange::matches(const SemVer& v) const {
    for (const auto& c : constraints_) {
        const int cmp = v.compare(c.version);
        bool ok = false;
        if (c.op == "=")
            ok = cmp == 0;
        else if (c.op == "<")
            ok = cmp < 0;
        else if (c.op == "<=")
            ok = cmp <= 0;
        else if (c.op == ">")
            ok = cmp > 0;
        else if (c.op == ">=")
            ok = cmp >= 0;
        else if (c.op == "^")
            ok = cmp >= 0 && v.major == c.version.major;
        else if (c.op == "~")
            ok = cmp >= 0 && v.major == c.version.major && v.minor == c.version.minor;
        if (!ok) return false;
    }
    return true;
}

} // namespace ckptconv::core
