// A bounded pickle virtual machine that executes nothing.
#pragma once

#include "core/io/PyObject.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

/**
 * Decodes one pickle (protocols 0-5) into a PyObject tree.
 *
 * - Torch's tensor recipes (_rebuild_tensor_v2/v3, _rebuild_parameter[_with_state],
 *   _rebuild_from_type_v2) and collections.OrderedDict are understood.
 * - Any other global becomes an inert Global node; calling it builds an Object
 *   record. Globals that reach for code execution under any spelling
 *   (PickleSafety), calls of computed values and getattr on anything but a
 *   class member make the input refused as unsafe (Error BadInput) — or, with
 *   `drop_unsafe`, are replaced by an inert placeholder and listed in dropped().
 * - The result is refused (BadInput) if it holds a cycle or is nested deeper
 *   than kMaxTreeDepth; what the VM made is released either way.
 * - Every length is checked against the bytes left; the stack, MARKs, memo and
 *   the number of objects are capped, so a hostile file cannot make it read out
 *   of bounds or allocate without bound. Nothing recurses on the input.
 */
class PickleReader {
  public:
    /** Turns a persistent id (the BINPERSID tuple) into a Storage node. */
    using PersistentLoader = std::function<PyRef(const PyObject& pid)>;

    PickleReader(std::string file, std::string record, PersistentLoader loader, bool drop_unsafe = false)
        : file_(std::move(file)), record_(std::move(record)), loader_(std::move(loader)), drop_unsafe_(drop_unsafe) {}

    /**
     * Decodes the pickle starting at `data[0]`; returns the object and sets
     * `consumed` to the number of bytes up to and including STOP (legacy
     * files hold several pickles back to back).
     */
    PyRef read(std::string_view data, size_t* consumed = nullptr);

    /** With drop_unsafe: what was removed, each "why (record at byte N)". */
    const std::vector<std::string>& dropped() const { return dropped_; }

  private:
    std::string file_;
    std::string record_;
    PersistentLoader loader_;
    bool drop_unsafe_;
    std::vector<std::string> dropped_;
};

} // namespace ckptconv::core
