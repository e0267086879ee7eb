// Size arithmetic on values a file declares: every sum and product is checked, so
// a hostile size, offset or stride can never wrap around into a small, "valid" one.
#pragma once

#include "core/util/Error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace ckptconv::core {

/** Sum and product into `out`; false when the result does not fit in 64 bits. */
inline bool add_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

/**
 * Checked arithmetic that throws BadInput naming the file and what was being
 * computed ("storage '3' size") instead of returning a wrapped value. The
 * description is given in parts and joined only on failure: checks run per
 * tensor, and must cost no allocation when they pass.
 */
class Checked {
  public:
    Checked(const std::string& file, std::string_view before, std::string_view subject = {},
            std::string_view after = {}, int64_t dimension = -1)
        : file_(file), before_(before), subject_(subject), after_(after), dimension_(dimension) {}

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
        if (v < 0) throw bad_input(file_, what() + " is negative (" + std::to_string(v) + ")");
        return static_cast<uint64_t>(v);
    }

  private:
    std::string what() const {
        std::string text = std::string(before_) + std::string(subject_) + std::string(after_);
        if (dimension_ >= 0) text += " in dimension " + std::to_string(dimension_);
        return text;
    }
    [[noreturn]] void fail() const { throw bad_input(file_, what() + " overflows 64 bits"); }
    const std::string& file_;
    std::string_view before_, subject_, after_; ///< views: the caller's strings outlive the check
    int64_t dimension_;
};

/** True when [offset, offset + length) lies inside [0, size); never wraps. */
inline bool range_inside(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

} // namespace ckptconv::core
