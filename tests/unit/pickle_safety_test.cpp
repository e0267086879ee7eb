#include "core/io/PickleSafety.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

bool refused(const char* module, const char* name) { return code_execution_reason(module, name).has_value(); }

TEST(PickleSafety, CodeRunningGlobalsUnderEverySpelling) {
    EXPECT_TRUE(refused("os", "system"));
    EXPECT_TRUE(refused("posix", "system"));
    EXPECT_TRUE(refused("__builtin__", "eval"));
    EXPECT_TRUE(refused("torch.serialization", "os"));   // a re-export
    EXPECT_TRUE(refused("pathlib", "os.system"));        // a protocol-4 dotted name
    EXPECT_TRUE(refused("numpy", "core._internal.sys")); // a submodule path
    EXPECT_TRUE(refused("numpy", "__builtins__"));       // interpreter internals
    EXPECT_TRUE(refused("asyncio.unix_events", "_UnixSubprocessTransport"));
    EXPECT_TRUE(refused("torch", "load"));
    EXPECT_TRUE(refused("torch._inductor.codecache", "compile_file"));
    EXPECT_TRUE(refused("functools", "partial"));
    EXPECT_EQ(*code_execution_reason("torch.serialization", "os"), "'torch.serialization.os' reaches module 'os'");
}

TEST(PickleSafety, WhatRealCheckpointsCarryIsNotRefused) {
    for (auto [m, n] : {std::pair{"collections", "OrderedDict"},
                        {"torch._utils", "_rebuild_tensor_v2"},
                        {"torch", "BFloat16Storage"},
                        {"argparse", "Namespace"},
                        {"numpy.core.multiarray", "scalar"},
                        {"numpy", "dtype"},
                        {"_codecs", "encode"},
                        {"deepspeed.runtime.zero.config", "ZeroStageEnum"},
                        {"omegaconf.dictconfig", "DictConfig"},
                        {"pathlib", "PosixPath"},
                        {"__main__", "Net"},
                        {"builtins", "getattr"},
                        {"__builtin__", "set"}})
        EXPECT_FALSE(refused(m, n)) << m << "." << n;
    EXPECT_EQ(python3_module("__builtin__"), "builtins");
    EXPECT_EQ(python3_module("copy_reg"), "copyreg");
}

TEST(PickleSafety, DataAttributesAreEnumMembersOnly) {
    EXPECT_TRUE(is_data_attribute("gradients"));
    EXPECT_TRUE(is_data_attribute("optimizer_states"));
    EXPECT_FALSE(is_data_attribute("__subclasses__"));
    EXPECT_FALSE(is_data_attribute("_private"));
    EXPECT_FALSE(is_data_attribute("system"));
    EXPECT_FALSE(is_data_attribute("open"));
    EXPECT_FALSE(is_data_attribute("a.b"));
    EXPECT_FALSE(is_data_attribute(""));
}

} // namespace
} // namespace ckptconv::core
