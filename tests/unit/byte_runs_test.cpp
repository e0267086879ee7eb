// The byte-run lowering against the tensor engine: every data-movement op, on random plans, and
// through PlanExecutor::write to a real file.
#include "core/io/CheckpointOpener.hpp"
#include "core/io/FileWriter.hpp"
#include "core/plan/ByteRuns.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/plan/PlanExecutor.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

namespace ckptconv::core {
namespace {

std::string gather(const std::vector<ByteRun>& runs) {
    std::string bytes;
    for (const ByteRun& r : runs) {
        if (r.file)
            bytes.append(reinterpret_cast<const char*>(r.file->data()) + r.offset, r.length);
        else if (r.memory)
            bytes.append(r.memory + r.offset, r.length);
        else
            bytes.append(r.length, '\0');
    }
    return bytes;
}

std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(ByteRuns, EachDataMovementOpMatchesTheEngine) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    PlanBuilder b(index);
    const int64_t x = b.source("", "i64"); // arange(6).reshape(2, 3)
    const int64_t raw[2] = {7, -7};
    const std::vector<std::pair<int64_t, bool>> cases = {
        {b.chunk(x, 2, 1, 0), true},
        {b.narrow(x, 1, 2, 1), true},
        {b.cat({b.chunk(x, 3, 2, 1), b.chunk(x, 3, 0, 1)}, 1), true},
        {b.pad(x, 0, 3), true},
        {b.pad(x, 1, 5), true},
        {b.pad(x, 1, 2), true},
        {b.reshape(x, {6}), true},
        {b.zeros({2}, DType::I64), true},
        {b.constant({2}, DType::I64, std::string(reinterpret_cast<const char*>(raw), sizeof raw)), true},
        {b.permute(x, {0, 1}), true},
        {b.cast(x, DType::I64), true},
        {b.permute(x, {1, 0}), false},
        {b.cast(x, DType::I32), false},
        {b.source("", "transposed"), false}, // strided in its storage
    };
    for (size_t i = 0; i < cases.size(); ++i) b.output("", "o" + std::to_string(i), cases[i].first);
    const Plan plan = b.take();
    const PlanExecutor ex(index, plan, std::nullopt);
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto runs = byte_runs(index, plan, cases[i].first);
        ASSERT_EQ(runs.has_value(), cases[i].second) << "case " << i;
        EXPECT_EQ(ex.is_byte_copy(i), cases[i].second) << "case " << i;
        if (runs) {
            EXPECT_EQ(gather(*runs), ex.bytes(i)) << "case " << i;
        }
    }
}

TEST(ByteRuns, AdjacentRangesMergeAndARunCapFallsBack) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    PlanBuilder b(index);
    const int64_t x = b.source("", "f32"); // [4, 5]
    const int64_t whole = b.cat({b.chunk(x, 2, 0, 0), b.chunk(x, 2, 1, 0)}, 0);
    const int64_t columns = b.narrow(x, 1, 1, 2);
    const Plan plan = b.take();
    EXPECT_EQ(byte_runs(index, plan, whole)->size(), 1u);
    EXPECT_EQ(byte_runs(index, plan, columns)->size(), 4u);
    EXPECT_FALSE(byte_runs(index, plan, columns, 3).has_value());
}

/** Random nests of narrow/chunk/pad/cat/reshape over a 3-d view, checked against the engine. */
TEST(ByteRuns, RandomPlansMatchTheEngineAndTheWrittenFile) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    std::mt19937 rng(1234);
    auto pick = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint32_t>(n)); };
    PlanBuilder b(index);
    const int64_t base = b.reshape(b.source("", "f32"), {2, 2, 5});
    std::vector<int64_t> exprs;
    for (int i = 0; i < 200; ++i) {
        int64_t e = base;
        for (int depth = pick(4); depth >= 0; --depth) {
            const Shape shape = b.plan().nodes.at(static_cast<size_t>(e)).shape;
            const int64_t dim = pick(static_cast<int64_t>(shape.size()));
            const int64_t size = shape[static_cast<size_t>(dim)];
            switch (pick(4)) {
            case 0: {
                const int64_t start = pick(size);
                e = b.narrow(e, dim, start, 1 + pick(size - start));
                break;
            }
            case 1: e = b.pad(e, dim, 1 + pick(size + 3)); break;
            case 2: e = b.cat({e, b.narrow(e, dim, 0, 1 + pick(size))}, dim); break;
            default: {
                int64_t total = 1;
                for (int64_t s : shape) total *= s;
                e = b.reshape(e, {total});
                e = b.reshape(e, shape);
            }
            }
        }
        exprs.push_back(e);
        b.output("", "o" + std::to_string(i), e);
    }
    const Plan plan = b.take();
    const PlanExecutor ex(index, plan, std::nullopt);
    test::TempDir dir;
    for (size_t i = 0; i < exprs.size(); ++i) {
        const auto runs = byte_runs(index, plan, exprs[i]);
        ASSERT_TRUE(runs.has_value()) << "output " << i;
        const std::string expected = ex.bytes(i);
        ASSERT_EQ(gather(*runs), expected) << "output " << i;
        const auto path = dir / ("o" + std::to_string(i) + ".bin"); // FileWriter creates exclusively
        FileWriter out(path.string());
        ex.write(i, out);
        out.close();
        ASSERT_EQ(file_bytes(path), expected) << "output " << i;
    }
}

} // namespace
} // namespace ckptconv::core
