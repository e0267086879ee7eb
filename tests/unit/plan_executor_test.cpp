// The executor against torch: every op on real checkpoint bytes, and casts rounded exactly as torch rounds.
#include "core/io/CheckpointOpener.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace ckptconv::core {
namespace {

std::string bytes_of(const CheckpointIndex& index, const std::string& key) {
    for (const auto& t : index.tensors)
        if (t.key == key) {
            std::string scratch;
            return std::string(tensor_bytes(index, *t.info, scratch));
        }
    throw std::runtime_error(key);
}

template <class T> std::vector<T> values(const std::string& bytes) {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

TEST(PlanExecutor, CastsRoundLikeTorchIncludingNanInfAndDenormals) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/special_floats.pt"));
    const std::pair<const char*, DType> kinds[] = {{"f32", DType::F32}, {"bf16", DType::BF16}, {"f16", DType::F16}};
    int checked = 0;
    for (const auto& [src, src_dtype] : kinds)
        for (const auto& [dst, dst_dtype] : kinds) {
            if (src_dtype == dst_dtype) continue;
            PlanBuilder b(index);
            b.output("", "y", b.cast(b.source("", src), dst_dtype));
            const Plan plan = b.take();
            const PlanExecutor ex(index, plan, std::nullopt);
            EXPECT_EQ(ex.bytes(0), bytes_of(index, std::string(src) + "_as_" + dst)) << src << " -> " << dst;
            ++checked;
        }
    EXPECT_EQ(checked, 6);
}

TEST(PlanExecutor, DtypeOptionCastsFloatingOutputsOnly) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    PlanBuilder b(index);
    b.output("", "f32", b.source("", "f32"));
    b.output("", "i64", b.source("", "i64"));
    const Plan plan = b.take();
    const PlanExecutor ex(index, plan, DType::BF16);
    EXPECT_EQ(ex.dtype(0), DType::BF16);
    EXPECT_EQ(ex.dtype(1), DType::I64);
    EXPECT_EQ(ex.nbytes(0), 4u * 5u * 2u);
    EXPECT_FALSE(ex.is_byte_copy(0));
    EXPECT_TRUE(ex.is_byte_copy(1));
    EXPECT_EQ(ex.bytes(1), bytes_of(index, "i64"));
}

TEST(PlanExecutor, ShapeOpsOnRealBytes) {
    // i64 = arange(6).reshape(2, 3); transposed = arange(6).reshape(2,3).t() (f32, strided)
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    PlanBuilder b(index);
    const int64_t x = b.source("", "i64");
    b.output("", "row1", b.chunk(x, 2, 1, 0));
    b.output("", "col2", b.narrow(x, 1, 2, 1));
    b.output("", "catted", b.cat({b.chunk(x, 3, 2, 1), b.chunk(x, 3, 0, 1)}, 1));
    b.output("", "padded", b.pad(x, 0, 3));
    b.output("", "cut", b.pad(x, 1, 2));
    b.output("", "perm", b.permute(x, {1, 0}));
    b.output("", "flat", b.reshape(x, {6}));
    b.output("", "zeros", b.zeros({2}, DType::I64));
    const int64_t raw[2] = {7, -7};
    b.output("", "const", b.constant({2}, DType::I64, std::string(reinterpret_cast<const char*>(raw), sizeof raw)));
    b.output("", "t", b.source("", "transposed"));
    const Plan plan = b.take();
    const PlanExecutor ex(index, plan, std::nullopt);
    EXPECT_EQ(values<int64_t>(ex.bytes(0)), (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(values<int64_t>(ex.bytes(1)), (std::vector<int64_t>{2, 5}));
    EXPECT_EQ(values<int64_t>(ex.bytes(2)), (std::vector<int64_t>{2, 0, 5, 3}));
    EXPECT_EQ(values<int64_t>(ex.bytes(3)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 0, 0, 0}));
    EXPECT_EQ(values<int64_t>(ex.bytes(4)), (std::vector<int64_t>{0, 1, 3, 4}));
    EXPECT_EQ(values<int64_t>(ex.bytes(5)), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(values<int64_t>(ex.bytes(6)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(values<int64_t>(ex.bytes(7)), (std::vector<int64_t>{0, 0}));
    EXPECT_EQ(values<int64_t>(ex.bytes(8)), (std::vector<int64_t>{7, -7}));
    EXPECT_EQ(values<float>(ex.bytes(9)), (std::vector<float>{0, 3, 1, 4, 2, 5})); // strided source made row-major
}

} // namespace
} // namespace ckptconv::core
