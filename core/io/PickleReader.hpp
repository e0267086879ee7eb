// A bounded pickle virtual machine that executes nothing.
#pragma once

#include "core/io/PyObject.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace ckptconv::core {

/**
 * Decodes one pickle (protocols 0-5) into a PyObject tree.
 *
 * - Torch's tensor recipes (_rebuild_tensor_v2/v3, _rebuild_parameter[_with_state],
 *   _rebuild_from_type_v2) and collections.OrderedDict are understood.
 * - Any other global becomes an inert Global node; calling it builds an Object
 *   record. Globals that only exist to run code or touch the system
 *   (os.*, subprocess.*, builtins.eval, ...) make the whole input refused as
 *   unsafe (Error BadInput) before anything else happens.
 * - Every length is checked against the bytes left, so a hostile file cannot
 *   make it read out of bounds or allocate without bound.
 */
class PickleReader {
  public:
    /** Turns a persistent id (the BINPERSID tuple) into a Storage node. */
    using PersistentLoader = std::function<PyRef(const PyObject& pid)>;

    PickleReader(std::string file, std::string record, PersistentLoader loader)
        : file_(std::move(file)), record_(std::move(record)), loader_(std::move(loader)) {}

    /**
     * Decodes the pickle starting at `data[0]`; returns the object and sets
     * `consumed` to the number of bytes up to and including STOP (legacy
     * files hold several pickles back to back).
     */
    PyRef read(std::string_view data, size_t* consumed = nullptr);

    /** True if module.name is on the list of code-running globals we refuse. */
    static bool is_unsafe_global(std::string_view module, std::string_view name);

  private:
    std::string file_;
    std::string record_;
    PersistentLoader loader_;
};

} // namespace ckptconv::core
