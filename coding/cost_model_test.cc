// Cost model: parsing with named errors, serialisation round trip, interpolation, fallback scaling,
// and the shipped default file.
#include "coding/cost_model.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace pbfs {
namespace {

const char* kSample = R"(version: 1
machine: "test box"
operations:
  - op: aead_seal
    algorithm: aes-256-gcm
    overhead_ns: 500
    points:
      - {bytes: 4096, gbps: 2}
      - {bytes: 65536, gbps: 4}
  - op: aead_open
    algorithm: aes-256-gcm
    overhead_ns: 400
    points: [{bytes: 65536, gbps: 4}]
  - op: ec_encode
    backend: isal
    k: 8
    m: 4
    overhead_ns: 100
    points: [{bytes: 1048576, gbps: 25}]
  - op: ec_decode
    backend: isal
    k: 8
    m: 4
    overhead_ns: 200
    points: [{bytes: 1048576, gbps: 20}]
  - op: checksum
    overhead_ns: 20
    points: [{bytes: 4096, gbps: 40}]
)";

CostModel sample() {
  auto model = CostModel::parse(kSample, "sample.yaml");
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  return std::move(model).value();
}

TEST(CostModel, ExactAtPointsAndInterpolatedBetween) {
  const CostModel m = sample();
  EXPECT_EQ(m.machine(), "test box");
  const CostOp seal = CostOp::aead_seal();
  EXPECT_EQ(m.cost_ns(seal, 4096), 2048);    // 4096 B at 2 GB/s
  EXPECT_EQ(m.cost_ns(seal, 65536), 16384);  // 65536 B at 4 GB/s
  EXPECT_EQ(m.cost_ns(seal, (4096 + 65536) / 2), (2048 + 16384) / 2);
  EXPECT_EQ(m.cost_ns(seal, 0), 500);                    // the per-call overhead
  EXPECT_EQ(m.cost_ns(seal, 2048), 500 + (2048 - 500) / 2);
  EXPECT_EQ(m.cost_ns(seal, 1 << 20), (1 << 20) / 4);    // constant throughput beyond the last point
  EXPECT_EQ(m.cost_ns(CostOp::checksum(), 8192), 205);
}

TEST(CostModel, FallsBackToNearestShapeWithScaling) {
  const CostModel m = sample();
  const int64_t base = m.cost_ns(CostOp::ec_encode(8, 4), 1 << 20);
  EXPECT_EQ(base, 41943);
  EXPECT_EQ(m.cost_ns(CostOp::ec_encode(10, 4), 1 << 20), base);         // same parity count
  EXPECT_EQ(m.cost_ns(CostOp::ec_encode(8, 2), 1 << 20), (base + 1) / 2);  // half the parity
  const int64_t decode = m.cost_ns(CostOp::ec_decode(8, 4), 1 << 20);
  EXPECT_EQ(m.cost_ns(CostOp::ec_decode(8, 4, ErasureBackend::kIsal, 1), 1 << 20), (decode + 2) / 4);
  // Uncalibrated backend and algorithm still cost something (nearest entry of the kind).
  EXPECT_EQ(m.cost_ns(CostOp::ec_encode(8, 4, ErasureBackend::kJerasureCauchy), 1 << 20), base);
  EXPECT_EQ(m.cost_ns(CostOp::aead_seal(AeadAlgorithm::kXChaCha20Poly1305), 4096), 2048);
}

TEST(CostModel, YamlRoundTrip) {
  const CostModel m = sample();
  const std::string text = m.to_yaml();
  auto back = CostModel::parse(text, "roundtrip");
  ASSERT_TRUE(back.is_ok()) << back.status().to_string() << "\n" << text;
  ASSERT_EQ(back->entries().size(), m.entries().size());
  for (size_t i = 0; i < m.entries().size(); ++i) {
    EXPECT_EQ(back->entries()[i].curve, m.entries()[i].curve);
    EXPECT_EQ(back->entries()[i].op.to_string(), m.entries()[i].op.to_string());
  }
  EXPECT_EQ(back->machine(), m.machine());
}

TEST(CostModel, SetReplacesOrAdds) {
  CostModel m = sample();
  m.set(CostOp::ec_encode(8, 4), {0, {{1 << 20, 50}}});
  EXPECT_EQ(m.cost_ns(CostOp::ec_encode(8, 4), 1 << 20), 20972);
  m.set(CostOp::ec_encode(4, 2, ErasureBackend::kJerasureVandermonde), {0, {{1 << 20, 10}}});
  EXPECT_EQ(m.entries().size(), 6u);
  EXPECT_TRUE(m.validate().is_ok());
  EXPECT_FALSE(CostModel().validate().is_ok());
}

TEST(CostModel, ErrorsNameTheLineAndField) {
  struct Case {
    std::string from, to, expect;
  };
  const Case cases[] = {
      {"version: 1", "version: 2", "sample.yaml:1: cost model.version"},
      {"    overhead_ns: 400", "    overhead_ns: 400\n    colour: red", "sample.yaml:13: operations.1: unknown key 'colour'"},
      {"backend: isal\n    k: 8\n    m: 4\n    overhead_ns: 100", "backend: nvme\n    k: 8\n    m: 4\n    overhead_ns: 100",
       "sample.yaml:15: operations.2.backend: unknown 'nvme'"},
      {"{bytes: 65536, gbps: 4}\n  - op: aead_open", "{bytes: 1024, gbps: 4}\n  - op: aead_open", "operations.0.points.1: sizes must increase"},
      {"{bytes: 4096, gbps: 40}", "{bytes: 4096, gbps: -1}", "operations.4.points.0: bytes and gbps must be positive"},
      {"  - op: checksum\n    overhead_ns: 20\n    points: [{bytes: 4096, gbps: 40}]\n", "", "no entry for checksum"},
      {"op: aead_open", "op: aead_seal", "listed twice"},
      {"k: 8\n    m: 4\n    overhead_ns: 100", "k: 0\n    m: 4\n    overhead_ns: 100", "operations.2: bad k, m"},
      {"overhead_ns: 500", "overhead_ns: fast", "operations.0.overhead_ns: bad value 'fast'"},
      {"operations:", "operations: [", "sample.yaml:"},
  };
  for (const Case& c : cases) {
    std::string text = kSample;
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto parsed = CostModel::parse(text, "sample.yaml");
    ASSERT_FALSE(parsed.is_ok()) << c.expect;
    EXPECT_NE(parsed.status().message().find(c.expect), std::string::npos) << parsed.status().message();
  }
}

TEST(CostModel, ShippedDefaultParsesAndCoversTheCommonShapes) {
  std::ifstream file(std::string(PBFS_SOURCE_DIR) + "/scenarios/cost-model.yaml");
  ASSERT_TRUE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  auto model = CostModel::parse(text.str(), "scenarios/cost-model.yaml");
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  for (ErasureBackend b : {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal}) {
    for (auto [k, m] : {std::pair{4u, 2u}, std::pair{8u, 4u}, std::pair{10u, 4u}}) {
      bool found = false;
      for (const auto& e : model->entries()) {
        found |= e.op.kind == CostKind::kEcEncode && e.op.backend == b && e.op.k == k && e.op.m == m;
      }
      EXPECT_TRUE(found) << erasure_backend_name(b) << " " << k << "+" << m;
    }
  }
  // Sanity of magnitudes: bigger calls cost more, and nothing is free.
  const CostOp seal = CostOp::aead_seal();
  EXPECT_GT(model->cost_ns(seal, 1 << 20), model->cost_ns(seal, 4096));
  EXPECT_GT(model->cost_ns(CostOp::checksum(), 4096), 0);
}

}  // namespace
}  // namespace pbfs
