// Size arithmetic on values a file declares: every sum and product is checked, so
// a hostile size, offset or stride can never wrap around into a small, "valid" one.
#pragma once

#include "core/util/Error.hpp"

#include <cstdint>
#include <string>

namespace ckptconv::core {

/** Sum and product into `out`; false when the result does not fit in 64 bits. */
inline bool add_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

/**
 * Checked arithmetic that throws BadInput naming the file and what was being
 * computed ("storage '3' size") instead of returning a wrapped value.
 */
class Checked {
  public:
    Checked(const std::string& file, std::string what) : file_(file), what_(std::move(what)) {}

    uint64_t add(uint64_t a, uint64_t b) const {
        uint64_t r = 0;
        if (!add_ok(a, b, r)) fail();
        return r;
    }
    uint64_t mul(uint64_t a, uint64_t b) const {
        uint64_t r = 0;
        if (!mul_ok(a, b, r)) fail();
        return r;
    }
    /** A declared signed value that must be >= 0 (sizes, offsets, strides). */
    uint64_t non_negative(int64_t v) const {
        if (v < 0) throw bad_input(file_, what_ + " is negative (" + std::to_string(v) + ")");
        return static_cast<uint64_t>(v);
    }

  private:
    [[noreturn]] void fail() const { throw bad_input(file_, what_ + " overflows 64 bits"); }
    const std::string& file_;
    std::string what_;
};

/** True when [offset, offset + length) lies inside [0, size); never wraps. */
inline bool range_inside(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

} // namespace ckptconv::core
