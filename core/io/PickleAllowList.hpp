// What a pt output may name: the stance of torch's weights_only loader, widened by
// the data-only extras real checkpoints carry. Everything else is dropped, never
// re-emitted, however harmless it looked when it was read.
#pragma once

#include "core/io/PyObject.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

/**
 * Whether an output may name `module.name`: torch rebuild functions, storage
 * classes, dtypes, torch.Size/device, collections.OrderedDict/defaultdict/Counter,
 * builtins set/frozenset/complex and the factories defaultdict takes,
 * argparse.Namespace, numpy scalar/array/dtype reconstructors, _codecs.encode.
 */
bool output_may_name(std::string_view module, std::string_view name);

struct SanitizedTree {
    PyRef tree;                       ///< shares every kept node with the input tree
    std::vector<std::string> dropped; ///< "path (type)" of every part left out
    uint64_t dropped_tensors = 0;     ///< tensors inside dropped parts
};

/**
 * `root` with every part an output may not hold left out: objects whose class
 * is off the allow-list or whose arguments have the wrong shape, bare globals
 * off the list, unsafe placeholders. A dropped dict value removes its entry; a
 * dropped list or tuple item becomes None (positions are kept); a dropped set
 * item is removed. Shared nodes stay shared. Recursion is bounded by
 * kMaxTreeDepth (readers refuse deeper trees).
 */
SanitizedTree sanitize_for_output(const PyRef& root);

} // namespace ckptconv::core
