// A tensor's sizes or strides: up to four held inline, more on the heap. An
// index of a million tensors holds two of these per tensor, so the common case
// must cost no allocation of its own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace ckptconv::core {

class Dims {
  public:
    using value_type = int64_t;
    using iterator = int64_t*;
    using const_iterator = const int64_t*;
    static constexpr uint32_t kInline = 4;

    Dims() = default;
    Dims(std::initializer_list<int64_t> values) { assign(values.begin(), values.end()); }
    Dims(const std::vector<int64_t>& values) { assign(values.begin(), values.end()); } // NOLINT: a shape is a shape
    Dims(size_t count, int64_t value) { assign(count, value); }
    Dims(const Dims& other) { assign(other.begin(), other.end()); }
    Dims(Dims&& other) noexcept { take(other); }
    ~Dims() { release(); }
    Dims& operator=(const Dims& other) {
        if (this != &other) assign(other.begin(), other.end());
        return *this;
    }
    Dims& operator=(Dims&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    Dims& operator=(std::initializer_list<int64_t> values) {
        assign(values.begin(), values.end());
        return *this;
    }
    Dims& operator=(const std::vector<int64_t>& values) {
        assign(values.begin(), values.end());
        return *this;
    }

    operator std::vector<int64_t>() const { return std::vector<int64_t>(begin(), end()); } // NOLINT

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    int64_t* data() { return heap_capacity_ ? heap_ : inline_; }
    const int64_t* data() const { return heap_capacity_ ? heap_ : inline_; }
    int64_t* begin() { return data(); }
    int64_t* end() { return data() + size_; }
    const int64_t* begin() const { return data(); }
    const int64_t* end() const { return data() + size_; }
    int64_t& operator[](size_t i) { return data()[i]; }
    int64_t operator[](size_t i) const { return data()[i]; }

    void reserve(size_t n) {
        if (n <= capacity()) return;
        if (n > UINT32_MAX) throw std::length_error("more than 2^32 dimensions");
        auto* grown = new int64_t[n];
        std::copy(begin(), end(), grown);
        release();
        heap_ = grown;
        heap_capacity_ = static_cast<uint32_t>(n);
    }
    void push_back(int64_t v) {
        if (size_ == capacity()) reserve(std::max<size_t>(capacity() * 2, kInline));
        data()[size_++] = v;
    }
    void resize(size_t n, int64_t v = 0) {
        reserve(n);
        for (size_t i = size_; i < n; ++i) data()[i] = v;
        size_ = static_cast<uint32_t>(n);
    }
    void clear() { size_ = 0; }
    void assign(size_t n, int64_t v) {
        clear();
        resize(n, v);
    }
    template <class It> void assign(It first, It last) {
        clear();
        reserve(static_cast<size_t>(std::distance(first, last)));
        for (; first != last; ++first) data()[size_++] = *first;
    }

    friend bool operator==(const Dims& a, const Dims& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
    friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }
    friend bool operator==(const Dims& a, const std::vector<int64_t>& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }
    friend bool operator==(const std::vector<int64_t>& a, const Dims& b) { return b == a; }
    friend bool operator!=(const Dims& a, const std::vector<int64_t>& b) { return !(a == b); }
    friend bool operator!=(const std::vector<int64_t>& a, const Dims& b) { return !(b == a); }

  private:
    size_t capacity() const { return heap_capacity_ ? heap_capacity_ : kInline; }
    void release() {
        if (heap_capacity_) delete[] heap_;
        heap_capacity_ = 0;
    }
    // Leaves `other` empty; its values (inline or on the heap) become ours.
    void take(Dims& other) {
        size_ = other.size_;
        heap_capacity_ = other.heap_capacity_;
        std::memcpy(inline_, other.inline_, sizeof inline_); // the heap pointer too, if that is what it holds
        other.size_ = 0;
        other.heap_capacity_ = 0;
    }

    union {
        int64_t inline_[kInline] = {0, 0, 0, 0};
        int64_t* heap_; ///< in use when heap_capacity_ > 0
    };
    uint32_t size_ = 0;
    uint32_t heap_capacity_ = 0; ///< 0: the values are inline
};

/** The strides of a row-major (contiguous) tensor of `shape`; a 0-size dimension steps as 1, as torch's do. */
inline Dims contiguous_strides(const Dims& shape) {
    Dims stride(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) stride[d - 1] = stride[d] * std::max<int64_t>(shape[d], 1);
    return stride;
}

/** "[3, 4]", as messages show a shape. */
inline std::string dims_text(const Dims& dims) {
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
}

} // namespace ckptconv::core
