// A set of names kept elsewhere, found by number: an open-addressing table of
// 8-byte slots (hash bits + id), with no node or string allocated per name. A
// million names cost 16 MB here, against ~100 MB in a node-based set.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace ckptconv::core {

class NameTable {
  public:
    explicit NameTable(size_t expected = 0) {
        rebuild(capacity_for(expected), [](uint32_t) { return std::string_view(); });
    }

    /**
     * Adds `name` (ids below 2^32 - 1) under `id` unless it is already there; returns the id that
     * holds it (== id when new). `name_of(id)` gives back any stored name:
     * names are not copied, so their owner may move them.
     */
    template <class NameOf> uint32_t insert(std::string_view name, uint32_t id, NameOf&& name_of) {
        if ((count_ + 1) * 4 > slots_.size() * 3) rebuild(slots_.size() * 2, name_of); // load <= 3/4
        const uint64_t h = hash(name);
        for (size_t at = h & mask();; at = (at + 1) & mask()) {
            const uint64_t slot = slots_[at];
            if (slot == 0) {
                slots_[at] = tag(h) | (uint64_t{id} + 1);
                ++count_;
                return id;
            }
            if ((slot & kTagMask) == tag(h) && name_of(stored_id(slot)) == name) return stored_id(slot);
        }
    }

    template <class NameOf> std::optional<uint32_t> find(std::string_view name, NameOf&& name_of) const {
        const uint64_t h = hash(name);
        for (size_t at = h & mask();; at = (at + 1) & mask()) {
            const uint64_t slot = slots_[at];
            if (slot == 0) return std::nullopt;
            if ((slot & kTagMask) == tag(h) && name_of(stored_id(slot)) == name) return stored_id(slot);
        }
    }

    size_t size() const { return count_; }

  private:
    static constexpr uint64_t kTagMask = 0xFFFFFFFF00000000ull;
    static uint64_t hash(std::string_view name) { return std::hash<std::string_view>()(name); }
    static uint64_t tag(uint64_t h) { return h & kTagMask; }
    static uint32_t stored_id(uint64_t slot) { return static_cast<uint32_t>((slot & ~kTagMask) - 1); }
    static size_t capacity_for(size_t expected) {
        size_t n = 16;
        while (n * 3 < expected * 4) n *= 2;
        return n;
    }
    size_t mask() const { return slots_.size() - 1; }

    template <class NameOf> void rebuild(size_t capacity, NameOf&& name_of) {
        std::vector<uint64_t> old(capacity, 0);
        old.swap(slots_);
        for (const uint64_t slot : old) {
            if (slot == 0) continue;
            const uint64_t h = hash(name_of(stored_id(slot)));
            size_t at = h & mask();
            while (slots_[at] != 0) at = (at + 1) & mask();
            slots_[at] = slot;
        }
    }

    std::vector<uint64_t> slots_;
    size_t count_ = 0;
};

} // namespace ckptconv::core
