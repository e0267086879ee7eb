#include "tests/support/TestSupport.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace ckptconv::test {

std::string corpus(const std::string& relative) {
    return std::string(CKPTCONV_SOURCE_DIR) + "/tests/corpus/" + relative;
}

TempDir::TempDir() {
    std::random_device rd;
    path_ =
        std::filesystem::temp_directory_path() / ("ckptconv-test-" + std::to_string(rd()) + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    TempDir tmp;
    const std::string out_path = (tmp / "out").string();
    const std::string err_path = (tmp / "err").string();
    std::vector<std::string> argv_s{CKPTCONV_CLI};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("CKPTCONV_", 0) != 0) env_s.emplace_back(*e);
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(CKPTCONV_CLI));
    int status = 0;
    waitpid(pid, &status, 0);
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    auto slurp = [](const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    };
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    return r;
}

core::CheckpointIndex index_from_keys(const std::string& root,
                                      const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                                      core::DType dtype) {
    auto dict = core::PyObject::make(core::PyKind::Dict);
    dict->ordered = true;
    for (const auto& [key, shape] : tensors) {
        auto info = std::make_shared<core::TensorInfo>();
        info->dtype = dtype;
        info->shape = shape;
        info->stride.assign(shape.size(), 1);
        for (size_t i = shape.size(); i-- > 1;) info->stride[i - 1] = info->stride[i] * std::max<int64_t>(shape[i], 1);
        auto storage = std::make_shared<core::StorageInfo>();
        storage->key = key;
        storage->dtype = dtype;
        uint64_t numel = 1;
        for (int64_t d : shape) numel *= static_cast<uint64_t>(d);
        storage->numel = numel;
        storage->nbytes = numel * core::element_size(dtype);
        info->storage = storage;
        auto node = core::PyObject::make(core::PyKind::Tensor);
        node->tensor = info;
        dict->dict_set(core::PyObject::make_str(key), node);
    }
    core::CheckpointIndex index;
    index.path = "<memory>";
    index.container = "memory";
    if (root.empty()) {
        index.tree = dict;
    } else {
        index.tree = core::PyObject::make(core::PyKind::Dict);
        index.tree->dict_set(core::PyObject::make_str(root), dict);
    }
    core::build_index_from_tree(index);
    return index;
}

} // namespace ckptconv::test
