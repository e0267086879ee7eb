#include "core/io/PickleWriter.hpp"

#include "core/io/PickleAllowList.hpp"
#include "core/util/Error.hpp"

#include <cstring>
#include <unordered_set>

namespace ckptconv::core {
namespace {

constexpr size_t kBatch = 1000; // pickle writes APPENDS/SETITEMS in batches of this size

void append_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// bytes -> the latin-1 text Python 3 pickles bytes as under protocol 2.
std::string latin1_as_utf8(const std::string& bytes) {
    std::string s;
    for (unsigned char c : bytes) {
        if (c < 0x80) {
            s.push_back(static_cast<char>(c));
        } else {
            s.push_back(static_cast<char>(0xC0 | (c >> 6)));
            s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return s;
}

} // namespace

std::string PickleWriter::write(const PyObject& root) {
    out_.clear();
    find_shared_tuples(root);
    out_ += "\x80\x02";
    emit(root);
    op('.');
    return out_;
}

void PickleWriter::find_shared_tuples(const PyObject& root) {
    std::unordered_map<const PyObject*, uint32_t> parents;
    std::unordered_set<const PyObject*> seen{&root};
    std::vector<const PyObject*> todo{&root};
    auto visit = [&](const PyRef& child) {
        if (!child) return;
        if (child->kind == PyKind::Tuple && !child->items.empty() && ++parents[child.get()] == 2)
            shared_tuples_.insert(child.get());
        if (seen.insert(child.get()).second) todo.push_back(child.get());
    };
    while (!todo.empty()) {
        const PyObject* n = todo.back();
        todo.pop_back();
        for (const auto& v : n->items) visit(v);
        for (const auto& [k, v] : n->entries) {
            visit(k);
            visit(v);
        }
        for (const PyRef* p : {&n->callable, &n->args, &n->kwargs, &n->state}) visit(*p);
    }
}

void PickleWriter::put(const PyObject* obj) {
    const uint32_t idx = next_memo_++;
    if (obj) memo_[obj] = idx;
    emit_memo_op('q', 'r', idx); // BINPUT / LONG_BINPUT
}

bool PickleWriter::get(const PyObject* obj) {
    auto it = memo_.find(obj);
    if (it == memo_.end()) return false;
    emit_memo_op('h', 'j', it->second); // BINGET / LONG_BINGET
    return true;
}

void PickleWriter::emit_memo_op(char one_byte_op, char four_byte_op, uint32_t idx) {
    if (idx < 256) {
        op(one_byte_op);
        out_.push_back(static_cast<char>(idx));
    } else {
        op(four_byte_op);
        append_le(out_, idx, 4);
    }
}

void PickleWriter::emit_int(int64_t v) {
    if (v >= 0 && v < 256) {
        op('K');
        out_.push_back(static_cast<char>(v));
    } else if (v >= 0 && v < 65536) {
        op('M');
        append_le(out_, static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op('J');
        append_le(out_, static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
        // LONG1 with the shortest two's-complement encoding, as Python writes it.
        std::string bytes;
        append_le(bytes, static_cast<uint64_t>(v), 8);
        while (bytes.size() > 1) {
            const auto last = static_cast<unsigned char>(bytes.back());
            const auto prev = static_cast<unsigned char>(bytes[bytes.size() - 2]);
            if ((last == 0x00 && !(prev & 0x80)) || (last == 0xFF && (prev & 0x80)))
                bytes.pop_back();
            else
                break;
        }
        op('\x8a');
        out_.push_back(static_cast<char>(bytes.size()));
        out_ += bytes;
    }
}

void PickleWriter::emit_str(const std::string& s) {
    op('X');
    append_le(out_, s.size(), 4);
    out_ += s;
}

void PickleWriter::emit_global(const std::string& module, const std::string& name) {
    // The last line of defence: trees reach here through sanitize_for_output.
    if (!output_may_name(module, name))
        throw Error(ExitCode::Internal, "pickle writer: refusing to name " + module + "." + name +
                                            ", which is not on the output allow-list");
    const std::string key = module + "\n" + name + "\n";
    if (auto it = global_memo_.find(key); it != global_memo_.end()) {
        emit_memo_op('h', 'j', it->second);
        return;
    }
    op('c');
    out_ += key;
    global_memo_[key] = next_memo_;
    put(nullptr);
}

void PickleWriter::emit_empty_ordered_dict() {
    emit_global("collections", "OrderedDict");
    op(')');
    op('R');
}

void PickleWriter::emit_storage_pid(const std::shared_ptr<StorageInfo>& s, DType dtype) {
    auto [it, inserted] = keys_.emplace(s.get(), std::to_string(storages_.size()));
    if (inserted) storages_.push_back(s);
    op('(');
    emit_str("storage");
    const std::string_view cls = storage_class_name(dtype);
    emit_global("torch", cls.empty() ? "UntypedStorage" : std::string(cls));
    emit_str(it->second);
    emit_str("cpu");
    const uint32_t esize = cls.empty() ? 1 : element_size(dtype);
    emit_int(static_cast<int64_t>(s->nbytes / esize));
    op('t');
    op('Q');
}

void PickleWriter::emit_tensor(const TensorInfo& t) {
    const bool typed = !storage_class_name(t.dtype).empty();
    if (t.is_parameter) emit_global("torch._utils", "_rebuild_parameter");
    if (t.is_parameter) op('(');
    emit_global("torch._utils", typed ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3");
    op('(');
    emit_storage_pid(t.storage, t.dtype);
    emit_int(t.storage_offset);
    op('(');
    for (int64_t d : t.shape) emit_int(d);
    op('t');
    op('(');
    for (int64_t d : t.stride) emit_int(d);
    op('t');
    op(t.requires_grad && !t.is_parameter ? '\x88' : '\x89');
    emit_empty_ordered_dict();
    if (!typed) emit_global("torch", std::string(torch_dtype_name(t.dtype)));
    op('t');
    op('R');
    if (t.is_parameter) {
        op(t.requires_grad ? '\x88' : '\x89');
        emit_empty_ordered_dict();
        op('t');
        op('R');
    }
}

void PickleWriter::emit_items(const std::vector<PyRef>& items) {
    for (size_t i = 0; i < items.size(); i += kBatch) {
        op('(');
        for (size_t j = i; j < items.size() && j < i + kBatch; ++j) emit(*items[j]);
        op('e');
    }
}

void PickleWriter::emit_entries(const std::vector<std::pair<PyRef, PyRef>>& entries) {
    for (size_t i = 0; i < entries.size(); i += kBatch) {
        op('(');
        for (size_t j = i; j < entries.size() && j < i + kBatch; ++j) {
            emit(*entries[j].first);
            emit(*entries[j].second);
        }
        op('u');
    }
}

void PickleWriter::emit(const PyObject& obj) {
    switch (obj.kind) {
    case PyKind::None:
        if (obj.unsafe) throw Error(ExitCode::Internal, "pickle writer: an unsafe placeholder reached the output");
        op('N');
        return;
    case PyKind::Bool: op(obj.boolean ? '\x88' : '\x89'); return;
    case PyKind::Int: emit_int(obj.integer); return;
    case PyKind::BigInt:
        if (obj.decimal) {
            op('L');
            out_ += obj.text + "L\n";
        } else if (obj.text.size() < 256) {
            op('\x8a');
            out_.push_back(static_cast<char>(obj.text.size()));
            out_ += obj.text;
        } else {
            op('\x8b');
            append_le(out_, obj.text.size(), 4);
            out_ += obj.text;
        }
        return;
    case PyKind::Float: {
        uint64_t bits = 0;
        std::memcpy(&bits, &obj.real, 8);
        op('G');
        append_le(out_, __builtin_bswap64(bits), 8);
        return;
    }
    case PyKind::Str: emit_str(obj.text); return;
    case PyKind::Bytes: // protocol 2 has no bytes opcode: _codecs.encode(latin-1 text, 'latin1')
        emit_global("_codecs", "encode");
        emit_str(latin1_as_utf8(obj.text));
        emit_str("latin1");
        op('\x86');
        op('R');
        return;
    case PyKind::Tuple:
        if (obj.items.empty()) {
            op(')');
            return;
        }
        // A tuple reached from several places is written once and fetched from the memo after, as
        // Python's pickler does; written each time, a shared graph would grow as 2^depth.
        if (shared_tuples_.count(&obj) && get(&obj)) return;
        op('(');
        for (const auto& v : obj.items) emit(*v);
        op('t');
        if (shared_tuples_.count(&obj)) put(&obj);
        return;
    case PyKind::List:
        if (get(&obj)) return;
        op(']');
        put(&obj);
        emit_items(obj.items);
        return;
    case PyKind::Dict:
        if (get(&obj)) return;
        if (obj.ordered)
            emit_empty_ordered_dict();
        else
            op('}');
        put(&obj);
        emit_entries(obj.entries);
        if (obj.state) {
            emit(*obj.state);
            op('b');
        }
        return;
    case PyKind::Set:
    case PyKind::FrozenSet:
        if (get(&obj)) return;
        emit_global("builtins", obj.kind == PyKind::Set ? "set" : "frozenset");
        op(']');
        emit_items(obj.items);
        op('\x85');
        op('R');
        put(&obj);
        return;
    case PyKind::Global: emit_global(obj.text, obj.name); return;
    case PyKind::Object:
        if (get(&obj)) return;
        if (obj.kwargs || !obj.callable || obj.callable->kind != PyKind::Global || obj.unsafe)
            throw Error(ExitCode::Internal, "pickle writer: " + type_name(obj) + " is not an allow-listed call");
        emit(*obj.callable);
        emit(*obj.args);
        op(obj.via_newobj ? '\x81' : 'R');
        put(&obj);
        emit_items(obj.items);
        emit_entries(obj.entries);
        if (obj.state) {
            emit(*obj.state);
            op('b');
        }
        return;
    case PyKind::Tensor: emit_tensor(*obj.tensor); return;
    case PyKind::Storage: emit_storage_pid(obj.storage, obj.storage->dtype); return;
    }
    throw Error(ExitCode::Internal, "pickle writer: unknown object kind");
}

} // namespace ckptconv::core
