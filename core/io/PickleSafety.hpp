// Which globals make an input refused: the code-execution families pickle scanners
// list, recognised under any spelling (dotted names, re-exports, getattr chains).
//
// This list only decides *refusal of inputs* (exit 3, or --drop-unsafe). It is not
// what keeps outputs safe: outputs name only the globals of PickleAllowList, so a
// name missing here can at worst be carried as inert data and then dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ckptconv::core {

/** Python 2 module names as Python 3's pickle maps them (`__builtin__` → `builtins`). */
std::string python3_module(std::string_view module);

/**
 * Why `module.name` reaches for code execution or system access, or nullopt
 * when it does not. Every dotted component of module and name is checked, so
 * `torch.serialization os`, `pathlib os.system` and `numpy core._internal.sys`
 * are caught like `os system`.
 */
std::optional<std::string> code_execution_reason(std::string_view module, std::string_view name);

/**
 * Whether `builtins.getattr(<global>, attr)` is a plain data lookup (an enum
 * member such as `ZeroStageEnum.gradients`): the attribute must be a public
 * identifier that names nothing code-running. The caller also refuses calling
 * the result or chaining getattr on it.
 */
bool is_data_attribute(std::string_view attr);

} // namespace ckptconv::core
