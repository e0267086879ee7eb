#include "core/io/PickleReader.hpp"

#include "core/util/Error.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace ckptconv::core {
namespace {

// Code-running or system-touching modules: any global from them is refused.
constexpr std::array<std::string_view, 34> kUnsafeModules{
    "os",      "posix",   "nt",     "subprocess", "sys",      "shutil",     "socket",          "importlib", "runpy",
    "code",    "codeop",  "ctypes", "pty",        "commands", "webbrowser", "multiprocessing", "asyncio",   "pickle",
    "_pickle", "marshal", "shelve", "io",         "_io",      "signal",     "threading",       "types",     "pdb",
    "bdb",     "timeit",  "urllib", "http",       "ftplib",   "pip",        "_posixsubprocess"};

// Callables in builtins that run code or do I/O. getattr is not here: on its
// own it is inert, and every module it could reach for harm is refused above.
constexpr std::array<std::string_view, 14> kUnsafeBuiltins{"eval",   "exec",       "execfile",   "compile", "open",
                                                           "input",  "__import__", "breakpoint", "apply",   "globals",
                                                           "locals", "setattr",    "delattr",    "exit"};

constexpr size_t kMaxMemo = 1u << 24;

struct Machine {
    const std::string& file;
    const std::string& record;
    const PickleReader::PersistentLoader& loader;
    std::string_view data;
    size_t pos = 0;
    std::vector<PyRef> stack;
    std::vector<PyRef> created; ///< everything ever pushed: freed explicitly at the end, as it may be cyclic
    std::vector<size_t> marks;
    std::unordered_map<uint64_t, PyRef> memo;

    [[noreturn]] void fail(const std::string& what) const {
        throw bad_input(file, record + ": " + what + " (at byte " + std::to_string(pos) + ")");
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
        created.push_back(v);
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

    PyRef make_global(std::string module, std::string name) {
        if (PickleReader::is_unsafe_global(module, name))
            throw bad_input(file, record + ": unsafe pickle: it calls " + module + "." + name +
                                      "; refusing to read it (nothing was executed)");
        return PyObject::make_global(std::move(module), std::move(name));
    }

    static PyRef tuple(std::vector<PyRef> items) {
        auto t = PyObject::make(PyKind::Tuple);
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
        info->storage_offset = int_arg(args, 1, fn) + st.integer; // + legacy storage-view offset
        info->shape = ints_arg(args, 2, fn);
        info->stride = ints_arg(args, 3, fn);
        if (info->shape.size() != info->stride.size())
            fail(std::string(fn) + ": size has " + std::to_string(info->shape.size()) + " dims but stride has " +
                 std::to_string(info->stride.size()));
        if (args.items.size() > 4) {
            const PyObject& rg = *args.items[4];
            info->requires_grad = rg.kind == PyKind::Bool && rg.boolean;
        }
        auto t = PyObject::make(PyKind::Tensor);
        t->tensor = std::move(info);
        return t;
    }

    // Calls with a known meaning; everything else becomes an inert Object.
    PyRef call(PyRef callable, PyRef args) {
        if (args->kind != PyKind::Tuple) fail("REDUCE arguments are not a tuple");
        const PyObject& c = *callable;
        if (c.kind == PyKind::Global) {
            if (c.is_global("collections", "OrderedDict") || c.is_global("builtins", "dict")) {
                auto d = PyObject::make(PyKind::Dict);
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
                    auto t = PyObject::make(PyKind::Tensor);
                    t->tensor = std::make_shared<TensorInfo>(*data_arg.tensor);
                    t->tensor->is_parameter = true;
                    const PyObject& rg = arg(*args, 1, c.name.c_str());
                    t->tensor->requires_grad = rg.kind == PyKind::Bool && rg.boolean;
                    return t;
                }
            }
            if (c.is_global("torch._tensor", "_rebuild_from_type_v2")) {
                // (func, type, args, state): the tensor is func(*args); the subclass type is not kept.
                const PyObject& fn = arg(*args, 0, "_rebuild_from_type_v2");
                const PyObject& inner = arg(*args, 2, "_rebuild_from_type_v2");
                if (fn.kind == PyKind::Global && inner.kind == PyKind::Tuple)
                    return call(args->items[0], args->items[2]);
            }
        }
        auto o = PyObject::make(PyKind::Object);
        o->callable = std::move(callable);
        o->args = std::move(args);
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
            auto b = PyObject::make(PyKind::BigInt);
            b->text = t; // too large for int64: kept as decimal text
            b->decimal = true;
            return b;
        }
        return PyObject::make_int(v);
    }

    static PyRef bool_obj(bool v) {
        auto b = PyObject::make(PyKind::Bool);
        b->boolean = v;
        return b;
    }

    PyRef long_bytes(std::string_view b) {
        if (b.size() <= 8) {
            uint64_t v = 0;
            for (size_t i = 0; i < b.size(); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
            if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80))
                v |= ~uint64_t{0} << (8 * b.size());
            return PyObject::make_int(static_cast<int64_t>(v));
        }
        auto big = PyObject::make(PyKind::BigInt);
        big->text = std::string(b);
        return big;
    }

    void setitems(PyObject& target, std::vector<PyRef>& kv) {
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
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
        if (target.kind != PyKind::List && target.kind != PyKind::Object) fail("APPEND on a " + type_name(target));
        for (auto& v : items) target.items.push_back(std::move(v));
    }

    void build(PyObject& target, PyRef state) {
        if (target.kind == PyKind::Tensor) return; // tensor __setstate__ (hooks, attributes): metadata only
        if (target.kind != PyKind::Dict && target.kind != PyKind::Object) fail("BUILD on a " + type_name(target));
        target.state = std::move(state);
    }

    PyRef run() {
        for (;;) {
            if (pos >= data.size()) fail("truncated pickle: no STOP opcode");
            const auto op = static_cast<uint8_t>(data[pos++]);
            switch (op) {
            case 0x80: take(1, "PROTO"); break;                  // PROTO
            case 0x95: take(8, "FRAME"); break;                  // FRAME: framing only
            case '.': return pop();                              // STOP
            case '(': marks.push_back(stack.size()); break;      // MARK
            case '0': pop(); break;                              // POP
            case '1': pop_mark(); break;                         // POP_MARK
            case '2': push(top()); break;                        // DUP
            case 'N': push(PyObject::make(PyKind::None)); break; // NONE
            case 0x88: push(bool_obj(true)); break;              // NEWTRUE
            case 0x89: push(bool_obj(false)); break;             // NEWFALSE
            case 'K': push(PyObject::make_int(static_cast<int64_t>(le(1, "BININT1")))); break;
            case 'M': push(PyObject::make_int(static_cast<int64_t>(le(2, "BININT2")))); break;
            case 'J': push(PyObject::make_int(static_cast<int32_t>(le(4, "BININT")))); break;
            case 'I': push(int_from_text(line("INT"))); break;
            case 'L': push(int_from_text(line("LONG"))); break;
            case 0x8a: push(long_bytes(take(le(1, "LONG1"), "LONG1"))); break;
            case 0x8b: push(long_bytes(take(le(4, "LONG4"), "LONG4"))); break;
            case 'F': {
                auto f = PyObject::make(PyKind::Float);
                f->real = parse_float_text(line("FLOAT"), *this);
                push(f);
                break;
            }
            case 'G': {
                const uint64_t bits = __builtin_bswap64(le(8, "BINFLOAT")); // big-endian
                auto f = PyObject::make(PyKind::Float);
                std::memcpy(&f->real, &bits, 8);
                push(f);
                break;
            }
            case 'X': push(PyObject::make_str(std::string(take(le(4, "BINUNICODE"), "BINUNICODE")))); break;
            case 0x8c:
                push(PyObject::make_str(std::string(take(le(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE"))));
                break;
            case 0x8d: push(PyObject::make_str(std::string(take(le(8, "BINUNICODE8"), "BINUNICODE8")))); break;
            case 'V': push(PyObject::make_str(std::string(line("UNICODE")))); break; // raw-unicode-escape, kept as is
            case 'S': {
                std::string_view s = line("STRING");
                if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"')) s = s.substr(1, s.size() - 2);
                push(PyObject::make_str(std::string(s)));
                break;
            }
            case 'T': push(PyObject::make_str(std::string(take(le(4, "BINSTRING"), "BINSTRING")))); break;
            case 'U': push(PyObject::make_str(std::string(take(le(1, "SHORT_BINSTRING"), "SHORT_BINSTRING")))); break;
            case 'B':
            case 'C':
            case 0x8e:
            case 0x96: {
                const size_t width = op == 'C' ? 1 : op == 'B' ? 4 : 8;
                auto b = PyObject::make(PyKind::Bytes);
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
            case ']': push(PyObject::make(PyKind::List)); break;
            case 'l': {
                auto l = PyObject::make(PyKind::List);
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
            case '}': push(PyObject::make(PyKind::Dict)); break;
            case 'd': {
                auto d = PyObject::make(PyKind::Dict);
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
            case 0x8f: push(PyObject::make(PyKind::Set)); break;
            case 0x90: {
                auto items = pop_mark();
                PyObject& s = *top();
                if (s.kind != PyKind::Set) fail("ADDITEMS on a " + type_name(s));
                for (auto& v : items) s.items.push_back(std::move(v));
                break;
            }
            case 0x91: {
                auto s = PyObject::make(PyKind::FrozenSet);
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
                auto o = PyObject::make(PyKind::Object);
                o->callable = std::move(cls);
                o->args = std::move(args);
                o->kwargs = std::move(kwargs);
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
            case 'P': push(persistent(PyObject::make_str(std::string(line("PERSID"))))); break;
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

bool PickleReader::is_unsafe_global(std::string_view module, std::string_view name) {
    const std::string_view root = module.substr(0, module.find('.'));
    for (auto m : kUnsafeModules)
        if (root == m) return true;
    if (module == "builtins" || module == "__builtin__") {
        for (auto b : kUnsafeBuiltins)
            if (name == b) return true;
    }
    if (module == "operator" && (name == "methodcaller" || name == "attrgetter")) return true;
    return false;
}

PyRef PickleReader::read(std::string_view data, size_t* consumed) {
    Machine m{file_, record_, loader_, data, 0, {}, {}, {}, {}};
    try {
        PyRef result = m.run();
        if (consumed) *consumed = m.pos;
        // Objects the result does not use may form cycles (memo, DUP): free them explicitly.
        release_trees(std::move(m.created), result.get());
        return result;
    } catch (...) {
        release_trees(std::move(m.created));
        throw;
    }
}

} // namespace ckptconv::core
