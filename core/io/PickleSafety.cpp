#include "core/io/PickleSafety.hpp"

#include <cctype>
#include <vector>

namespace ckptconv::core {
namespace {

// Modules that run code, spawn processes, do I/O or reach the interpreter (the
// union of picklescan's, modelscan's and fickling's lists). A dotted component
// anywhere in the full name counts: `torch.serialization.os` re-exports `os`.
constexpr std::string_view kCodeModules[] = {
    "os",          "posix",     "nt",           "subprocess",   "_posixsubprocess",
    "sys",         "socket",    "ssl",          "shutil",       "runpy",
    "pdb",         "bdb",       "pty",          "pickle",       "_pickle",
    "pickletools", "marshal",   "shelve",       "dill",         "cloudpickle",
    "joblib",      "pip",       "ensurepip",    "venv",         "pydoc",
    "webbrowser",  "httplib",   "http",         "urllib",       "urllib2",
    "requests",    "aiohttp",   "asyncio",      "ctypes",       "cffi",
    "commands",    "cProfile",  "profile",      "timeit",       "trace",
    "doctest",     "test",      "uuid",         "distutils",    "setuptools",
    "f2py",        "testing",   "_osx_support", "_aix_support", "_pyrepl",
    "importlib",   "imp",       "zipimport",    "pkgutil",      "code",
    "codeop",      "io",        "_io",          "codecs",       "tempfile",
    "glob",        "signal",    "threading",    "_thread",      "multiprocessing",
    "concurrent",  "types",     "inspect",      "functools",    "operator",
    "_operator",   "logging",   "platform",     "imaplib",      "ftplib",
    "smtplib",     "telnetlib", "idlelib",      "lib2to3"};

// torch internals that compile, load or run code (fickling's UnsafeImportsML, picklescan GHSAs).
constexpr std::string_view kCodeTorchParts[] = {"_dynamo",        "_inductor", "fx",      "collect_env", "bottleneck",
                                                "_config_module", "datapipes", "package", "hub",         "jit"};

// Names that evaluate, import, open, spawn or unpickle, whatever module they sit in.
constexpr std::string_view kCodeNames[] = {"eval",
                                           "exec",
                                           "execfile",
                                           "compile",
                                           "open",
                                           "input",
                                           "__import__",
                                           "breakpoint",
                                           "apply",
                                           "globals",
                                           "locals",
                                           "vars",
                                           "setattr",
                                           "delattr",
                                           "exit",
                                           "quit",
                                           "help",
                                           "system",
                                           "popen",
                                           "spawn",
                                           "load",
                                           "loads",
                                           "load_module",
                                           "import_module",
                                           "run",
                                           "runcode",
                                           "runctx",
                                           "call",
                                           "check_call",
                                           "check_output",
                                           "attrgetter",
                                           "itemgetter",
                                           "methodcaller",
                                           "partial",
                                           "resolve_name",
                                           "locate",
                                           "urlopen",
                                           "write_file",
                                           "getattribute_from_module",
                                           "_load_from_bytes",
                                           "execWrapper",
                                           "compile_file"};

std::vector<std::string_view> components(std::string_view dotted) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        const size_t dot = dotted.find('.', start);
        parts.push_back(dotted.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) return parts;
        start = dot + 1;
    }
}

template <size_t N> bool listed(const std::string_view (&list)[N], std::string_view part) {
    for (auto m : list)
        if (m == part) return true;
    return false;
}

} // namespace

std::string python3_module(std::string_view module) {
    if (module == "__builtin__") return "builtins";
    if (module == "copy_reg") return "copyreg";
    return std::string(module);
}

std::optional<std::string> code_execution_reason(std::string_view raw_module, std::string_view name) {
    const std::string module = python3_module(raw_module);
    const std::string full = module + "." + std::string(name);
    const auto module_parts = components(module);
    for (auto part : components(full)) {
        // Dunder attributes walk the interpreter (`__builtins__`, `__subclasses__`, `__globals__`).
        if (part.size() > 4 && part.substr(0, 2) == "__" && part.substr(part.size() - 2) == "__" &&
            part != "__builtin__" && part != "__main__")
            return "'" + full + "' reaches interpreter internals through '" + std::string(part) + "'";
        if (listed(kCodeModules, part)) return "'" + full + "' reaches module '" + std::string(part) + "'";
        if (module_parts.front() == "torch" && listed(kCodeTorchParts, part))
            return "'" + full + "' reaches torch." + std::string(part) + ", which compiles or loads code";
        if (listed(kCodeNames, part)) return "'" + full + "' names '" + std::string(part) + "', which runs code";
    }
    return std::nullopt; // builtins.getattr included: judged where it is called (see is_data_attribute)
}

bool is_data_attribute(std::string_view attr) {
    if (attr.empty() || attr.front() == '_') return false;
    for (char c : attr)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return !listed(kCodeNames, attr) && !listed(kCodeModules, attr);
}

} // namespace ckptconv::core
