#include "core/util/Progress.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(Progress, LineShowsDoneTotalPercentRateAndEta) {
    EXPECT_EQ(progress_line(1'200'000'000, 3'400'000'000, 2.0), "  1.2 GB / 3.4 GB   35%  600.0 MB/s  ETA 4 s");
    EXPECT_EQ(progress_line(0, 512, 0.0), "  0 B / 512 B    0%");
    EXPECT_EQ(progress_line(9'000, 5'000, 1.0),
              "  5.0 KB / 5.0 KB  100%  5.0 KB/s"); // headers past the plan are not shown
}

} // namespace
} // namespace ckptconv::core
