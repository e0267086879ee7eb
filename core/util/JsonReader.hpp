// A strict JSON pull reader over text in memory, for the large flat documents
// checkpoints carry (a safetensors header, a shard index): one linear pass, no
// DOM, no recursion, no allocation per value unless a string holds escapes.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

/** Malformed JSON, or a value the caller asked for with another kind. `offset` is where in the text. */
class JsonSyntaxError : public std::runtime_error {
  public:
    JsonSyntaxError(uint64_t offset, const std::string& what)
        : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
    uint64_t offset() const { return offset_; }

  private:
    uint64_t offset_;
};

class JsonReader {
  public:
    enum class Kind { Object, Array, String, Number, Boolean, Null };

    explicit JsonReader(std::string_view text) : text_(text) {}

    /** "object", "array", "string", "number", "boolean" or "null", for messages. */
    static const char* kind_name(Kind kind);

    /** The kind of the next value (whitespace skipped); throws at the end of the text. */
    Kind peek();

    /** Enters an object: then `next_member` until it returns false. */
    void begin_object();
    /** The next member's key (valid until the next key is read), or false once the object closed. */
    bool next_member(std::string_view& key);
    /** Enters an array: then `next_element` until it returns false. */
    void begin_array();
    bool next_element();

    /** A string value, unescaped; valid until the next string value is read. */
    std::string_view string();
    /** A number that is a non-negative integer fitting 64 bits; anything else throws naming what it is. */
    uint64_t unsigned_integer();
    /** Skips one value of any kind and depth (iteratively), checking its syntax. */
    void skip_value();
    /** Nothing but whitespace may follow the top-level value. */
    void finish();

    /** Bytes consumed so far: callers can release the pages behind them. */
    uint64_t offset() const { return pos_; }
    [[noreturn]] void fail(const std::string& what) const { throw JsonSyntaxError(pos_, what); }

  private:
    void skip_space();
    char next_byte(const char* expected);
    std::string_view read_string(std::string& scratch);
    void read_escape(std::string& out);
    void check_utf8(size_t& at) const;
    void skip_number();
    void skip_literal(std::string_view word);

    std::string_view text_;
    size_t pos_ = 0;
    struct Open {
        bool object; ///< else an array
        bool first;  ///< no member read yet
    };
    bool next_in(bool object, char close);

    std::vector<Open> open_; ///< containers entered and not yet closed
    std::string key_scratch_, value_scratch_;
};

} // namespace ckptconv::core
