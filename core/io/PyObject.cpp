#include "core/io/PyObject.hpp"

namespace ckptconv::core {

std::string type_name(const PyObject& obj) {
    switch (obj.kind) {
    case PyKind::None: return "None";
    case PyKind::Bool: return "bool";
    case PyKind::Int:
    case PyKind::BigInt: return "int";
    case PyKind::Float: return "float";
    case PyKind::Str: return "str";
    case PyKind::Bytes: return "bytes";
    case PyKind::Tuple: return "tuple";
    case PyKind::List: return "list";
    case PyKind::Dict: return obj.ordered ? "OrderedDict" : "dict";
    case PyKind::Set: return "set";
    case PyKind::FrozenSet: return "frozenset";
    case PyKind::Global: return "global " + obj.text + "." + obj.name;
    case PyKind::Object:
        if (obj.callable && obj.callable->kind == PyKind::Global) return obj.callable->text + "." + obj.callable->name;
        return "object";
    case PyKind::Tensor: return "tensor";
    case PyKind::Storage: return "storage";
    }
    return "object";
}

} // namespace ckptconv::core
