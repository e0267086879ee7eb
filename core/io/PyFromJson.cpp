#include "core/io/PyFromJson.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace ckptconv::core {
namespace {

constexpr int kMaxDepth = 64;

PyRef convert(const nlohmann::ordered_json& j, int depth) {
    if (j.is_structured() && depth >= kMaxDepth) throw std::invalid_argument("nested deeper than 64 levels");
    switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return PyObject::make(PyKind::None);
    case nlohmann::ordered_json::value_t::boolean: {
        auto b = PyObject::make(PyKind::Bool);
        b->boolean = j.get<bool>();
        return b;
    }
    case nlohmann::ordered_json::value_t::number_integer: return PyObject::make_int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
        if (j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            throw std::invalid_argument("integer exceeds 64 bits");
        return PyObject::make_int(static_cast<int64_t>(j.get<uint64_t>()));
    }
    case nlohmann::ordered_json::value_t::number_float: {
        auto f = PyObject::make(PyKind::Float);
        f->real = j.get<double>();
        return f;
    }
    case nlohmann::ordered_json::value_t::string: return PyObject::make_str(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
        auto list = PyObject::make(PyKind::List);
        for (const auto& item : j) list->items.push_back(convert(item, depth + 1));
        return list;
    }
    case nlohmann::ordered_json::value_t::object: {
        if (j.size() == 1 && j.begin().key() == "__namespace__") {
            const auto& fields = j.begin().value();
            if (!fields.is_object()) throw std::invalid_argument("__namespace__ must hold an object");
            auto ns = PyObject::make(PyKind::Object);
            ns->callable = PyObject::make_global("argparse", "Namespace");
            ns->args = PyObject::make(PyKind::Tuple);
            ns->via_newobj = true;
            ns->state = convert(fields, depth + 1);
            return ns;
        }
        auto dict = PyObject::make(PyKind::Dict);
        for (const auto& [k, v] : j.items()) dict->dict_set(PyObject::make_str(k), convert(v, depth + 1));
        return dict;
    }
    default: throw std::invalid_argument("a JSON value of no Python type");
    }
}

} // namespace

PyRef py_from_json(const std::string& json) {
    return convert(nlohmann::ordered_json::parse(json), 0); // nlohmann parses and frees without recursion
}

} // namespace ckptconv::core
