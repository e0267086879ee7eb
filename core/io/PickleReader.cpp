#include "core/io/PickleReader.hpp"

#include "core/io/PickleSafety.hpp"
#include "core/util/Error.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace ckptconv::core {
namespace {

// Caps a hostile pickle cannot push past: the stack, open MARKs and the memo are
// bounded outright; every new object is counted against a budget that grows with
// the record (a real data.pkl makes well under one object per 4 bytes).
constexpr size_t kMaxStack = 1u << 18;
constexpr size_t kMaxMarks = 1u << 16;
constexpr size_t kMaxMemo = 1u << 22;
constexpr uint64_t kBaseObjects = 1u << 18;

struct Machine {
    const std::string& file;
    const std::string& record;
    const PickleReader::PersistentLoader& loader;
    bool drop_unsafe;
    std::vector<std::string>& dropped;
    std::string_view data;
    size_t pos = 0;
    size_t op_pos = 0; ///< where the current opcode starts, for messages
    std::vector<PyRef> stack;
    /// Every mutable container made: the ones a pickle made cyclic are released at the end.
    std::vector<std::weak_ptr<PyObject>> containers;
    std::vector<size_t> marks;
    std::unordered_map<uint64_t, PyRef> memo;
    uint64_t objects = 0;
    uint64_t max_objects = kBaseObjects + data.size() / 4;

    void count_object() {
        if (++objects > max_objects)
            fail("more than " + std::to_string(max_objects) + " objects for a " + std::to_string(data.size()) +
                 "-byte pickle");
    }
    PyRef mk(PyKind kind) {
        count_object();
        PyRef p = PyObject::make(kind);
        if (PyObject::is_mutable(kind)) containers.push_back(p);
        return p;
    }
    PyRef mk_int(int64_t v) {
        PyRef p = mk(PyKind::Int);
        p->integer = v;
        return p;
    }
    PyRef mk_str(std::string v) {
        PyRef p = mk(PyKind::Str);
        p->text = std::move(v);
        return p;
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw bad_input(file, record + ": " + what + " (at byte " + std::to_string(op_pos) + ")");
    }

    std::string_view take(uint64_t n, const char* what) {
        if (n > data.size() - pos)
            fail(std::string("truncated pickle: ") + what + " needs " + std::to_string(n) + " bytes");
        std::string_view s = data.substr(pos, static_cast<size_t>(n));
        pos += static_cast<size_t>(n);
        return s;
    }
    uint64_t le(size_t n, const char* what) {
        std::string_view b = take(n, what);
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
        return v;
    }
    std::string_view line(const char* what) {
        const size_t nl = data.find('\n', pos);
        if (nl == std::string_view::npos) fail(std::string("truncated pickle: unterminated ") + what);
        std::string_view s = data.substr(pos, nl - pos);
        pos = nl + 1;
        return s;
    }

    void push(PyRef v) {
        if (stack.size() >= kMaxStack) fail("pickle stack deeper than " + std::to_string(kMaxStack) + " entries");
        stack.push_back(std::move(v));
    }

    PyRef pop() {
        if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail("stack underflow");
        PyRef v = std::move(stack.back());
        stack.pop_back();
        return v;
    }
    PyRef& top() {
        if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail("stack underflow");
        return stack.back();
    }
    std::vector<PyRef> pop_mark() {
        if (marks.empty()) fail("MARK expected");
        const size_t m = marks.back();
        marks.pop_back();
        std::vector<PyRef> items(std::make_move_iterator(stack.begin() + static_cast<std::ptrdiff_t>(m)),
                                 std::make_move_iterator(stack.end()));
        stack.resize(m);
        return items;
    }
    void put(uint64_t idx) {
        if (memo.size() >= kMaxMemo && !memo.count(idx))
            fail("memo larger than " + std::to_string(kMaxMemo) + " entries");
        memo[idx] = top();
    }
    void get(uint64_t idx) {
        auto it = memo.find(idx);
        if (it == memo.end()) fail("memo key " + std::to_string(idx) + " was never stored");
        push(it->second);
    }

    // Refuses the input, or with --drop-unsafe returns the inert placeholder that replaces the part.
    PyRef unsafe(const std::string& why) {
        const std::string where = record + " at byte " + std::to_string(op_pos);
        if (!drop_unsafe)
            throw bad_input(file, "unsafe pickle: " + why + " (" + where +
                                      "); refusing to read it, nothing was executed (--drop-unsafe converts "
                                      "without the unsafe parts)");
        dropped.push_back(why + " (" + where + ")");
        PyRef p = mk(PyKind::None);
        p->unsafe = true;
        return p;
    }

    PyRef make_global(const std::string& raw_module, std::string name) {
        std::string module = python3_module(raw_module);
        if (auto why = code_execution_reason(module, name)) return unsafe("global " + *why);
        count_object();
        return PyObject::make_global(std::move(module), std::move(name));
    }

    PyRef tuple(std::vector<PyRef> items) {
        auto t = mk(PyKind::Tuple);
        t->items = std::move(items);
        return t;
    }

    const PyObject& arg(const PyObject& args, size_t i, const char* fn) const {
        if (args.kind != PyKind::Tuple || args.items.size() <= i)
            fail(std::string(fn) + " called with too few arguments");
        return *args.items[i];
    }
    int64_t int_arg(const PyObject& args, size_t i, const char* fn) const {
        const PyObject& a = arg(args, i, fn);
        if (a.kind != PyKind::Int) fail(std::string(fn) + ": argument " + std::to_string(i) + " must be an int");
        return a.integer;
    }
    std::vector<int64_t> ints_arg(const PyObject& args, size_t i, const char* fn) const {
        const PyObject& a = arg(args, i, fn);
        if (a.kind != PyKind::Tuple && a.kind != PyKind::List && !(a.kind == PyKind::Object))
            fail(std::string(fn) + ": argument " + std::to_string(i) + " must be a tuple of ints");
        // torch.Size pickles as an Object wrapping a tuple.
        const PyObject& seq = (a.kind == PyKind::Object && a.args && !a.args->items.empty()) ? *a.args->items[0] : a;
        std::vector<int64_t> out;
        for (const auto& v : seq.items) {
            if (v->kind != PyKind::Int) fail(std::string(fn) + ": argument " + std::to_string(i) + " must hold ints");
            out.push_back(v->integer);
        }
        return out;
    }

    PyRef rebuild_tensor(const PyObject& args, const char* fn, std::optional<DType> explicit_dtype) {
        const PyObject& st = arg(args, 0, fn);
        if (st.kind != PyKind::Storage) fail(std::string(fn) + ": first argument is not a storage");
        auto info = std::make_shared<TensorInfo>();
        info->storage = st.storage;
        info->dtype = explicit_dtype ? *explicit_dtype : st.storage->dtype;
        // + the element offset of a legacy storage view; both are file data, so the sum is checked.
        if (__builtin_add_overflow(int_arg(args, 1, fn), st.integer, &info->storage_offset))
            fail(std::string(fn) + ": storage offset overflows");
        info->shape = ints_arg(args, 2, fn);
        info->stride = ints_arg(args, 3, fn);
        if (info->shape.size() != info->stride.size())
            fail(std::string(fn) + ": size has " + std::to_string(info->shape.size()) + " dims but stride has " +
                 std::to_string(info->stride.size()));
        if (args.items.size() > 4) {
            const PyObject& rg = *args.items[4];
            info->requires_grad = rg.kind == PyKind::Bool && rg.boolean;
        }
        auto t = mk(PyKind::Tensor);
        t->tensor = std::move(info);
        return t;
    }

    // Calls with a known meaning; everything else becomes an inert Object.
    PyRef call(PyRef callable, PyRef args) {
        if (callable->unsafe || args->unsafe) return callable->unsafe ? callable : args;
        if (args->kind != PyKind::Tuple) fail("REDUCE arguments are not a tuple");
        // torch's subclass wrapper (func, type, args, state) holds the real recipe; unwrapped
        // in a loop, so nesting costs no stack.
        while (callable->is_global("torch._tensor", "_rebuild_from_type_v2") && args->items.size() >= 3 &&
               args->items[0]->kind == PyKind::Global && args->items[2]->kind == PyKind::Tuple) {
            PyRef inner_args = args->items[2];
            callable = args->items[0];
            args = std::move(inner_args);
        }
        const PyObject& c = *callable;
        // Calling anything but a named global (a getattr result, the value of another call) is
        // how pickle gadgets chain: never part of a checkpoint.
        if (c.kind != PyKind::Global) return unsafe("calls a computed value (" + type_name(c) + ")");
        if (c.is_global("builtins", "getattr")) return attribute(std::move(callable), std::move(args));
        if (c.is_global("collections", "OrderedDict") || c.is_global("builtins", "dict")) {
            auto d = mk(PyKind::Dict);
            d->ordered = c.name == "OrderedDict";
            if (!args->items.empty()) {
                for (const auto& pair : args->items[0]->items)
                    if (pair->items.size() == 2) d->dict_set(pair->items[0], pair->items[1]);
            }
            return d;
        }
        if (c.text == "torch._utils") {
            if (c.name == "_rebuild_tensor_v2" || c.name == "_rebuild_tensor")
                return rebuild_tensor(*args, c.name.c_str(), std::nullopt);
            if (c.name == "_rebuild_tensor_v3") {
                const PyObject& d = arg(*args, 6, "_rebuild_tensor_v3");
                std::optional<DType> dt;
                if (d.kind == PyKind::Global && d.text == "torch") dt = dtype_from_torch_name(d.name);
                if (!dt) fail("_rebuild_tensor_v3: unsupported dtype " + type_name(d) + " " + d.name);
                return rebuild_tensor(*args, "_rebuild_tensor_v3", dt);
            }
            if (c.name == "_rebuild_parameter" || c.name == "_rebuild_parameter_with_state") {
                const PyObject& data_arg = arg(*args, 0, c.name.c_str());
                if (data_arg.kind != PyKind::Tensor) fail(c.name + ": data is not a tensor");
                auto t = mk(PyKind::Tensor);
                t->tensor = std::make_shared<TensorInfo>(*data_arg.tensor);
                t->tensor->is_parameter = true;
                const PyObject& rg = arg(*args, 1, c.name.c_str());
                t->tensor->requires_grad = rg.kind == PyKind::Bool && rg.boolean;
                return t;
            }
        }
        auto o = mk(PyKind::Object);
        o->callable = std::move(callable);
        o->args = std::move(args);
        return o;
    }

    // builtins.getattr(<class global>, 'member') is how some Pythons pickle enum members
    // (DeepSpeed's ZeroStageEnum): data. Any other use reaches for a callable.
    PyRef attribute(PyRef callable, PyRef args) {
        const bool data_lookup = args->items.size() == 2 && args->items[0]->kind == PyKind::Global &&
                                 args->items[1]->kind == PyKind::Str && is_data_attribute(args->items[1]->text);
        if (!data_lookup) {
            std::string what = "builtins.getattr";
            if (!args->items.empty()) what += " on " + type_name(*args->items[0]);
            if (args->items.size() > 1 && args->items[1]->kind == PyKind::Str)
                what += " for '" + args->items[1]->text + "'";
            return unsafe(what + " reaches a callable or an internal attribute");
        }
        auto o = mk(PyKind::Object);
        o->callable = std::move(callable);
        o->args = std::move(args);
        o->attribute_lookup = true;
        return o;
    }

    PyRef persistent(PyRef pid) {
        if (!loader) fail("persistent id found but this container has no storages");
        return loader(*pid);
    }

    static double parse_float_text(std::string_view s, const Machine& m) {
        std::string tmp(s);
        char* end = nullptr;
        const double v = std::strtod(tmp.c_str(), &end);
        if (end == tmp.c_str()) m.fail("bad FLOAT literal");
        return v;
    }

    PyRef int_from_text(std::string_view s) {
        std::string t(s);
        if (!t.empty() && t.back() == 'L') t.pop_back();
        if (t == "00") return bool_obj(false); // protocol 0 spelling of False/True
        if (t == "01") return bool_obj(true);
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(t.c_str(), &end, 10);
        if (end == t.c_str() || *end != '\0') fail("bad INT literal");
        if (errno == ERANGE) {
            auto b = mk(PyKind::BigInt);
            b->text = t; // too large for int64: kept as decimal text
            b->decimal = true;
            return b;
        }
        return mk_int(v);
    }

    PyRef bool_obj(bool v) {
        auto b = mk(PyKind::Bool);
        b->boolean = v;
        return b;
    }

    PyRef long_bytes(std::string_view b) {
        if (b.size() <= 8) {
            uint64_t v = 0;
            for (size_t i = 0; i < b.size(); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
            if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80))
                v |= ~uint64_t{0} << (8 * b.size());
            return mk_int(static_cast<int64_t>(v));
        }
        auto big = mk(PyKind::BigInt);
        big->text = std::string(b);
        return big;
    }

    void setitems(PyObject& target, std::vector<PyRef>& kv) {
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
        if (target.unsafe) return;
        for (size_t i = 0; i < kv.size(); i += 2) {
            if (target.kind == PyKind::Dict)
                target.dict_set(kv[i], kv[i + 1]);
            else if (target.kind == PyKind::Object)
                target.entries.emplace_back(kv[i], kv[i + 1]);
            else
                fail("SETITEM on a " + type_name(target));
        }
    }

    void appends(PyObject& target, std::vector<PyRef>& items) {
        if (target.unsafe) return;
        if (target.kind != PyKind::List && target.kind != PyKind::Object) fail("APPEND on a " + type_name(target));
        for (auto& v : items) target.items.push_back(std::move(v));
    }

    void build(PyObject& target, PyRef state) {
        if (target.unsafe || target.kind == PyKind::Tensor) return;
        if (target.attribute_lookup)
            fail("BUILD on an attribute looked up with getattr"); // tensor __setstate__ (hooks, attributes): metadata
                                                                  // only
        if (target.kind != PyKind::Dict && target.kind != PyKind::Object) fail("BUILD on a " + type_name(target));
        target.state = std::move(state);
    }

    PyRef run() {
        for (;;) {
            if (pos >= data.size()) fail("truncated pickle: no STOP opcode");
            op_pos = pos;
            const auto op = static_cast<uint8_t>(data[pos++]);
            switch (op) {
            case 0x80: take(1, "PROTO"); break; // PROTO
            case 0x95: take(8, "FRAME"); break; // FRAME: framing only
            case '.': return pop();             // STOP
            case '(':                           // MARK
                if (marks.size() >= kMaxMarks) fail("more than " + std::to_string(kMaxMarks) + " open MARKs");
                marks.push_back(stack.size());
                break;
            case '0': pop(); break;                  // POP
            case '1': pop_mark(); break;             // POP_MARK
            case '2': push(top()); break;            // DUP
            case 'N': push(mk(PyKind::None)); break; // NONE
            case 0x88: push(bool_obj(true)); break;  // NEWTRUE
            case 0x89: push(bool_obj(false)); break; // NEWFALSE
            case 'K': push(mk_int(static_cast<int64_t>(le(1, "BININT1")))); break;
            case 'M': push(mk_int(static_cast<int64_t>(le(2, "BININT2")))); break;
            case 'J': push(mk_int(static_cast<int32_t>(le(4, "BININT")))); break;
            case 'I': push(int_from_text(line("INT"))); break;
            case 'L': push(int_from_text(line("LONG"))); break;
            case 0x8a: push(long_bytes(take(le(1, "LONG1"), "LONG1"))); break;
            case 0x8b: push(long_bytes(take(le(4, "LONG4"), "LONG4"))); break;
            case 'F': {
                auto f = mk(PyKind::Float);
                f->real = parse_float_text(line("FLOAT"), *this);
                push(f);
                break;
            }
            case 'G': {
                const uint64_t bits = __builtin_bswap64(le(8, "BINFLOAT")); // big-endian
                auto f = mk(PyKind::Float);
                std::memcpy(&f->real, &bits, 8);
                push(f);
                break;
            }
            case 'X': push(mk_str(std::string(take(le(4, "BINUNICODE"), "BINUNICODE")))); break;
            case 0x8c: push(mk_str(std::string(take(le(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE")))); break;
            case 0x8d: push(mk_str(std::string(take(le(8, "BINUNICODE8"), "BINUNICODE8")))); break;
            case 'V': push(mk_str(std::string(line("UNICODE")))); break; // raw-unicode-escape, kept as is
            case 'S': {
                std::string_view s = line("STRING");
                if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"')) s = s.substr(1, s.size() - 2);
                push(mk_str(std::string(s)));
                break;
            }
            case 'T': push(mk_str(std::string(take(le(4, "BINSTRING"), "BINSTRING")))); break;
            case 'U': push(mk_str(std::string(take(le(1, "SHORT_BINSTRING"), "SHORT_BINSTRING")))); break;
            case 'B':
            case 'C':
            case 0x8e:
            case 0x96: {
                const size_t width = op == 'C' ? 1 : op == 'B' ? 4 : 8;
                auto b = mk(PyKind::Bytes);
                b->text = std::string(take(le(width, "BINBYTES"), "BINBYTES"));
                push(b);
                break;
            }
            case ')': push(tuple({})); break;
            case 't': push(tuple(pop_mark())); break;
            case 0x85: {
                auto a = pop();
                push(tuple({a}));
                break;
            }
            case 0x86: {
                auto b = pop();
                auto a = pop();
                push(tuple({a, b}));
                break;
            }
            case 0x87: {
                auto c = pop();
                auto b = pop();
                auto a = pop();
                push(tuple({a, b, c}));
                break;
            }
            case ']': push(mk(PyKind::List)); break;
            case 'l': {
                auto l = mk(PyKind::List);
                l->items = pop_mark();
                push(l);
                break;
            }
            case 'a': {
                std::vector<PyRef> one{pop()};
                appends(*top(), one);
                break;
            }
            case 'e': {
                auto items = pop_mark();
                appends(*top(), items);
                break;
            }
            case '}': push(mk(PyKind::Dict)); break;
            case 'd': {
                auto d = mk(PyKind::Dict);
                auto kv = pop_mark();
                setitems(*d, kv);
                push(d);
                break;
            }
            case 's': {
                auto v = pop();
                auto k = pop();
                std::vector<PyRef> kv{k, v};
                setitems(*top(), kv);
                break;
            }
            case 'u': {
                auto kv = pop_mark();
                setitems(*top(), kv);
                break;
            }
            case 0x8f: push(mk(PyKind::Set)); break;
            case 0x90: {
                auto items = pop_mark();
                PyObject& s = *top();
                if (s.kind != PyKind::Set) fail("ADDITEMS on a " + type_name(s));
                for (auto& v : items) s.items.push_back(std::move(v));
                break;
            }
            case 0x91: {
                auto s = mk(PyKind::FrozenSet);
                s->items = pop_mark();
                push(s);
                break;
            }
            case 'p': {
                std::string_view l = line("PUT");
                put(std::strtoull(std::string(l).c_str(), nullptr, 10));
                break;
            }
            case 'q': put(le(1, "BINPUT")); break;
            case 'r': put(le(4, "LONG_BINPUT")); break;
            case 0x94: put(memo.size()); break; // MEMOIZE
            case 'g': {
                std::string_view l = line("GET");
                get(std::strtoull(std::string(l).c_str(), nullptr, 10));
                break;
            }
            case 'h': get(le(1, "BINGET")); break;
            case 'j': get(le(4, "LONG_BINGET")); break;
            case 'c': {
                std::string module(line("GLOBAL module"));
                std::string name(line("GLOBAL name"));
                push(make_global(std::move(module), std::move(name)));
                break;
            }
            case 0x93: {
                auto name = pop();
                auto module = pop();
                if (module->kind != PyKind::Str || name->kind != PyKind::Str) fail("STACK_GLOBAL needs two strings");
                push(make_global(module->text, name->text));
                break;
            }
            case 'R': {
                auto args = pop();
                auto callable = pop();
                push(call(std::move(callable), std::move(args)));
                break;
            }
            case 0x81: { // NEWOBJ cls.__new__(cls, *args)
                auto args = pop();
                auto cls = pop();
                auto o = call(std::move(cls), std::move(args));
                o->via_newobj = true;
                push(o);
                break;
            }
            case 0x92: { // NEWOBJ_EX
                auto kwargs = pop();
                auto args = pop();
                auto cls = pop();
                auto o = call(std::move(cls), std::move(args));
                if (o->kind == PyKind::Object) o->kwargs = std::move(kwargs);
                o->via_newobj = true;
                push(o);
                break;
            }
            case 'i': { // INST module\nname\n with args from MARK
                std::string module(line("INST module"));
                std::string name(line("INST name"));
                auto cls = make_global(std::move(module), std::move(name));
                push(call(std::move(cls), tuple(pop_mark())));
                break;
            }
            case 'o': { // OBJ: MARK cls args...
                auto items = pop_mark();
                if (items.empty()) fail("OBJ without a class");
                PyRef cls = items.front();
                items.erase(items.begin());
                push(call(std::move(cls), tuple(std::move(items))));
                break;
            }
            case 'b': {
                auto state = pop();
                build(*top(), std::move(state));
                break;
            }
            case 'Q': push(persistent(pop())); break;
            case 'P': push(persistent(mk_str(std::string(line("PERSID"))))); break;
            case 0x82:
            case 0x83:
            case 0x84: fail("copyreg extension codes (EXT1/2/4) are not supported");
            case 0x97:
            case 0x98: fail("out-of-band pickle buffers are not supported");
            default: {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02x", op);
                fail(std::string("unknown pickle opcode ") + hex);
            }
            }
        }
    }
};

} // namespace

PyRef PickleReader::read(std::string_view data, size_t* consumed) {
    Machine m{file_, record_, loader_, drop_unsafe_, dropped_, data, 0, 0, {}, {}, {}, {}};
    auto release_cycles = [&m](const PyObject* keep) {
        std::vector<PyRef> alive;
        for (auto& w : m.containers)
            if (PyRef p = w.lock()) alive.push_back(std::move(p));
        m.containers.clear();
        m.memo.clear();
        m.stack.clear();
        release_trees(std::move(alive), keep);
    };
    try {
        PyRef result = m.run();
        check_tree_shape(*result, file_); // no caller ever holds a cyclic or too deep tree
        if (consumed) *consumed = m.pos;
        // Containers the result does not use may form cycles (memo, DUP): free them explicitly.
        release_cycles(result.get());
        return result;
    } catch (...) {
        release_cycles(nullptr);
        throw;
    }
}

} // namespace ckptconv::core
