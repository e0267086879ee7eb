#include "core/plan/TensorEngine.hpp"

#include "core/host/PluginSearchPath.hpp"
#include "core/util/Error.hpp"

#include <boost/dll/shared_library.hpp>

#include <mutex>

namespace ckptconv::core {

const TensorEngineApi& tensor_engine() {
    static std::once_flag once;
    static boost::dll::shared_library library; // kept for the life of the process
    static const TensorEngineApi* api = nullptr;
    static std::string failure;
    std::call_once(once, [] {
        const auto path = builtin_plugin_dir().parent_path() / "libckptconv_engine.so";
        try {
            library.load(path.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
            api = library.get<const TensorEngineApi*()>(kTensorEngineEntry)();
            if (!api || api->struct_size < sizeof(TensorEngineApi))
                failure = path.string() + ": engine interface mismatch";
        } catch (const std::exception& e) {
            failure = "cannot load the tensor engine " + path.string() + ": " + e.what();
        }
    });
    if (!api || !failure.empty()) throw Error(ExitCode::Internal, failure);
    return *api;
}

} // namespace ckptconv::core
