// The calibrate command: a quick run writes a cost model that parses and covers every operation kind;
// bad arguments and unwritable paths are reported with their exit codes. No timing is asserted.
#include "apps/calibrate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "coding/cost_model.h"

namespace pbfs {
namespace {

TEST(Calibrate, QuickRunWritesAParsableModel) {
  const std::string path = (std::filesystem::temp_directory_path() / "pbfs-calibrate-test.yaml").string();
  ASSERT_EQ(run_calibrate_command({"--quick", "--out", path}), 0);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  auto model = CostModel::parse(text.str(), path);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EXPECT_FALSE(model->machine().empty());
  // 2 algorithms x seal/open, 3 backends x 3 shapes x encode/decode, checksum.
  EXPECT_EQ(model->entries().size(), 4u + 18u + 1u);
  for (const auto& e : model->entries()) {
    EXPECT_GT(e.curve.overhead_ns, 0) << e.op.to_string();
    EXPECT_EQ(e.curve.points.size(), 3u);
    for (const CostPoint& p : e.curve.points) EXPECT_GT(p.gbps, 0) << e.op.to_string();
  }
  EXPECT_GT(model->cost_ns(CostOp::ec_encode(8, 4), 1 << 20), 0);
}

TEST(Calibrate, BadUsage) {
  EXPECT_EQ(run_calibrate_command({"--fast"}), 2);
  EXPECT_EQ(run_calibrate_command({"--out"}), 2);
  EXPECT_EQ(run_calibrate_command({"--help"}), 0);
  EXPECT_EQ(run_calibrate_command({"--quick", "--out", "/nonexistent-dir/x.yaml"}), 1);
}

}  // namespace
}  // namespace pbfs
