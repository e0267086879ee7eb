// Python values a plugin describes as JSON (sdk::Value), as the pickle writer's object tree.
#pragma once

#include "core/io/PyObject.hpp"

#include <string>

namespace ckptconv::core {

/**
 * null, booleans, integers (64-bit), floats, strings, arrays (lists) and
 * objects (dicts, insertion order kept); {"__namespace__": {...}} becomes an
 * argparse.Namespace built as pickle builds one (empty-args NEWOBJ, then its
 * fields as state), which the output allow-list accepts. Nesting is limited
 * to 64 levels; anything else throws std::invalid_argument.
 */
PyRef py_from_json(const std::string& json);

} // namespace ckptconv::core
