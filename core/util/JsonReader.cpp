#include "core/util/JsonReader.hpp"

#include <cstring>

namespace ckptconv::core {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

} // namespace

const char* JsonReader::kind_name(Kind kind) {
    switch (kind) {
    case Kind::Object: return "object";
    case Kind::Array: return "array";
    case Kind::String: return "string";
    case Kind::Number: return "number";
    case Kind::Boolean: return "boolean";
    case Kind::Null: return "null";
    }
    return "value";
}

void JsonReader::skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
}

char JsonReader::next_byte(const char* expected) {
    skip_space();
    if (pos_ >= text_.size()) fail(std::string("unexpected end of JSON, expected ") + expected);
    return text_[pos_];
}

JsonReader::Kind JsonReader::peek() {
    const char c = next_byte("a value");
    switch (c) {
    case '{': return Kind::Object;
    case '[': return Kind::Array;
    case '"': return Kind::String;
    case 't':
    case 'f': return Kind::Boolean;
    case 'n': return Kind::Null;
    default:
        if (c == '-' || is_digit(c)) return Kind::Number;
        fail(std::string("unexpected character '") + c + "'");
    }
}

void JsonReader::begin_object() {
    if (peek() != Kind::Object) fail("expected an object");
    ++pos_;
    open_.push_back({true, true});
}

void JsonReader::begin_array() {
    if (peek() != Kind::Array) fail("expected an array");
    ++pos_;
    open_.push_back({false, true});
}

// Steps past the separator before the next member or element; false (and the container left) at its end.
bool JsonReader::next_in(bool object, char close) {
    if (open_.empty() || open_.back().object != object) fail("internal: no open container of this kind");
    const char c = next_byte(object ? "a member or '}'" : "an element or ']'");
    if (c == close) {
        ++pos_;
        open_.pop_back();
        return false;
    }
    if (!open_.back().first) {
        if (c != ',') fail(std::string("expected ',' or '") + close + "'");
        ++pos_;
    }
    open_.back().first = false;
    return true;
}

bool JsonReader::next_member(std::string_view& key) {
    if (!next_in(true, '}')) return false;
    if (next_byte("a member name") != '"') fail("expected a member name");
    key = read_string(key_scratch_);
    if (next_byte("':'") != ':') fail("expected ':' after a member name");
    ++pos_;
    return true;
}

bool JsonReader::next_element() { return next_in(false, ']'); }

std::string_view JsonReader::string() {
    if (peek() != Kind::String) fail("expected a string");
    return read_string(value_scratch_);
}

std::string_view JsonReader::read_string(std::string& scratch) {
    const size_t start = ++pos_; // past the opening quote
    // Fast path: no escapes, so the value is a view of the text. Plain ASCII is skipped
    // eight bytes at a time (SWAR: no byte is '"', '\\', a control character or >= 0x80).
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    while (text_.size() - pos_ >= 8) {
        uint64_t w;
        std::memcpy(&w, text_.data() + pos_, 8);
        const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
        const uint64_t special =
            ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | (w - kOnes * 0x20) | w;
        if (special & kHighs) break;
        pos_ += 8;
    }
    while (pos_ < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c == '"') return text_.substr(start, pos_++ - start);
        if (c == '\\') break;
        if (c < 0x20) fail("control character in a string");
        if (c >= 0x80)
            check_utf8(pos_);
        else
            ++pos_;
    }
    scratch.assign(text_.substr(start, pos_ - start));
    while (pos_ < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c == '"') {
            ++pos_;
            return scratch;
        }
        if (c == '\\') {
            read_escape(scratch);
        } else if (c < 0x20) {
            fail("control character in a string");
        } else if (c >= 0x80) {
            const size_t from = pos_;
            check_utf8(pos_);
            scratch.append(text_.substr(from, pos_ - from));
        } else {
            scratch.push_back(static_cast<char>(c));
            ++pos_;
        }
    }
    fail("unterminated string");
}

void JsonReader::read_escape(std::string& out) {
    auto code_unit = [&]() -> uint32_t { // pos_ at the 'u'
        if (text_.size() - pos_ < 5) fail("truncated \\u escape");
        uint32_t v = 0;
        for (size_t i = 1; i <= 4; ++i) {
            const int h = hex_value(text_[pos_ + i]);
            if (h < 0) fail("bad hex digit in a \\u escape");
            v = v * 16 + static_cast<uint32_t>(h);
        }
        pos_ += 5;
        return v;
    };
    ++pos_; // the backslash
    if (pos_ >= text_.size()) fail("unterminated string");
    const char c = text_[pos_];
    switch (c) {
    case '"':
    case '\\':
    case '/': out.push_back(c); break;
    case 'b': out.push_back('\b'); break;
    case 'f': out.push_back('\f'); break;
    case 'n': out.push_back('\n'); break;
    case 'r': out.push_back('\r'); break;
    case 't': out.push_back('\t'); break;
    case 'u': {
        uint32_t cp = code_unit();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
                fail("high surrogate without its low half");
            ++pos_;
            const uint32_t low = code_unit();
            if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        return;
    }
    default: fail(std::string("invalid escape '\\") + c + "'");
    }
    ++pos_;
}

// One UTF-8 sequence starting at `at` (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
void JsonReader::check_utf8(size_t& at) const {
    const auto byte = [&](size_t i) -> unsigned { return at + i < text_.size() ? uint8_t(text_[at + i]) : 0u; };
    const unsigned c = byte(0);
    unsigned lo = 0x80, hi = 0xBF;
    size_t continuation = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        continuation = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        continuation = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        continuation = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        throw JsonSyntaxError(at, "invalid UTF-8 in a string");
    }
    for (size_t i = 1; i <= continuation; ++i) {
        const unsigned b = byte(i);
        if (b < (i == 1 ? lo : 0x80u) || b > (i == 1 ? hi : 0xBFu))
            throw JsonSyntaxError(at, "invalid UTF-8 in a string");
    }
    at += continuation + 1;
}

uint64_t JsonReader::unsigned_integer() {
    if (peek() != Kind::Number) fail("expected a number");
    const size_t start = pos_;
    skip_number();
    const std::string_view number = text_.substr(start, pos_ - start);
    if (number[0] == '-') throw JsonSyntaxError(start, "negative number " + std::string(number));
    if (number.find_first_of(".eE") != std::string_view::npos)
        throw JsonSyntaxError(start, "a fractional number (" + std::string(number) + ") where an integer belongs");
    uint64_t v = 0;
    for (const char d : number) {
        const auto digit = static_cast<uint64_t>(d - '0');
        if (v > (UINT64_MAX - digit) / 10)
            throw JsonSyntaxError(start, "number " + std::string(number) + " exceeds 64 bits");
        v = v * 10 + digit;
    }
    return v;
}

void JsonReader::skip_number() {
    auto digits = [&] {
        const size_t from = pos_;
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
        if (pos_ == from) fail("malformed number");
        return pos_ - from;
    };
    if (text_[pos_] == '-') ++pos_;
    const size_t int_start = pos_;
    if (digits() > 1 && text_[int_start] == '0') throw JsonSyntaxError(int_start, "number with a leading zero");
    if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
        ++pos_;
        if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
        digits();
    }
}

void JsonReader::skip_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) fail("unexpected character '" + std::string(1, text_[pos_]) + "'");
    pos_ += word.size();
}

void JsonReader::skip_value() {
    const size_t base = open_.size();
    for (;;) {
        switch (peek()) {
        case Kind::Object: begin_object(); break;
        case Kind::Array: begin_array(); break;
        case Kind::String: read_string(value_scratch_); break;
        case Kind::Number: skip_number(); break;
        case Kind::Boolean: skip_literal(text_[pos_] == 't' ? "true" : "false"); break;
        case Kind::Null: skip_literal("null"); break;
        }
        // Find the next value still to read inside what this call entered, closing finished containers.
        for (;;) {
            if (open_.size() == base) return;
            std::string_view key;
            if (open_.back().object ? next_member(key) : next_element()) break;
        }
    }
}

void JsonReader::finish() {
    skip_space();
    if (!open_.empty()) fail("internal: JSON containers left open");
    if (pos_ != text_.size()) fail("unexpected data after the JSON value");
}

} // namespace ckptconv::core
