// Erasure coding: every erasure pattern up to m for several (k, m) and payload sizes, on every backend;
// parity compared with the raw libraries; windows, repair of parity, alignment staging, bad input.
#include "coding/erasure.h"

#include <cauchy.h>
#include <gtest/gtest.h>
#include <isa-l/erasure_code.h>
#include <jerasure.h>
#include <reed_sol.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <vector>

namespace pbfs {
namespace {

const ErasureBackend kBackends[] = {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy,
                                    ErasureBackend::kIsal};

Bytes pattern_bytes(size_t n, uint32_t seed) {
  Bytes out(n);
  std::mt19937 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

ErasureCoder make_coder(uint32_t k, uint32_t m, ErasureBackend backend, uint32_t packet_max = 4096) {
  auto coder = ErasureCoder::create({k, m, backend, packet_max});
  EXPECT_TRUE(coder.is_ok()) << coder.status().to_string();
  return std::move(coder).value();
}

// Calls fn(erased) for every set of at most `limit` erased indices out of n.
template <typename Fn>
void for_each_erasure_pattern(uint32_t n, uint32_t limit, Fn fn) {
  for (uint32_t e = 0; e <= limit; ++e) {
    std::vector<bool> chosen(n, false);
    std::fill(chosen.end() - e, chosen.end(), true);
    do {
      std::vector<uint32_t> erased;
      for (uint32_t i = 0; i < n; ++i) if (chosen[i]) erased.push_back(i);
      fn(erased);
    } while (std::next_permutation(chosen.begin(), chosen.end()));
  }
}

std::vector<FragmentView> survivors(const Stripe& stripe, const std::vector<uint32_t>& erased) {
  std::vector<FragmentView> views;
  for (uint32_t i = 0; i < stripe.layout().fragment_count(); ++i) {
    if (std::find(erased.begin(), erased.end(), i) == erased.end()) views.push_back({i, stripe.fragment(i)});
  }
  return views;
}

struct Shape {
  uint32_t k, m;
};

TEST(Erasure, EveryPatternUpToMDecodes) {
  const Shape shapes[] = {{1, 1}, {2, 1}, {3, 2}, {4, 2}, {6, 3}, {8, 4}, {10, 4}};
  const uint64_t sizes[] = {0, 1, 63, 1001, 4096 + 13};
  for (ErasureBackend backend : kBackends) {
    for (Shape s : shapes) {
      ErasureCoder coder = make_coder(s.k, s.m, backend);
      for (uint64_t size : sizes) {
        const Bytes data = pattern_bytes(size, static_cast<uint32_t>(size * 7 + s.k));
        Stripe stripe;
        ASSERT_TRUE(coder.encode(data, stripe).is_ok());
        ASSERT_TRUE(validate_stripe_layout(stripe.layout()).is_ok());
        size_t patterns = 0;
        for_each_erasure_pattern(s.k + s.m, s.m, [&](const std::vector<uint32_t>& erased) {
          auto views = survivors(stripe, erased);
          Result<Bytes> decoded = coder.decode(stripe.layout(), views);
          ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
          ASSERT_EQ(*decoded, data) << erasure_backend_name(backend) << " k=" << s.k << " m=" << s.m
                                    << " size=" << size << " first erased=" << (erased.empty() ? -1 : int(erased[0]));
          ++patterns;
        });
        EXPECT_GT(patterns, s.m);
      }
    }
  }
}

TEST(Erasure, LargePayloadSingleAndWorstCaseErasures) {
  const uint64_t size = (1u << 20) + 7;
  const Bytes data = pattern_bytes(size, 99);
  for (ErasureBackend backend : kBackends) {
    ErasureCoder coder = make_coder(8, 4, backend);
    Stripe stripe;
    ASSERT_TRUE(coder.encode(data, stripe).is_ok());
    std::vector<std::vector<uint32_t>> patterns = {{0}, {7}, {11}, {0, 1, 2, 3}, {4, 5, 6, 7}, {1, 3, 8, 10}};
    for (const auto& erased : patterns) {
      Result<Bytes> decoded = coder.decode(stripe.layout(), survivors(stripe, erased));
      ASSERT_TRUE(decoded.is_ok());
      EXPECT_TRUE(*decoded == data) << erasure_backend_name(backend);
    }
  }
}

TEST(Erasure, WidestCodesDecode) {
  for (ErasureBackend backend : kBackends) {
    for (Shape s : {Shape{250, 6}, Shape{128, 128}}) {
      ErasureCoder coder = make_coder(s.k, s.m, backend);
      const Bytes data = pattern_bytes(s.k * 64 + 5, s.k);
      Stripe stripe;
      ASSERT_TRUE(coder.encode(data, stripe).is_ok());
      std::vector<uint32_t> erased;
      for (uint32_t i = 0; i < s.m; ++i) erased.push_back((i * 37) % (s.k + s.m));
      std::sort(erased.begin(), erased.end());
      erased.erase(std::unique(erased.begin(), erased.end()), erased.end());
      Result<Bytes> decoded = coder.decode(stripe.layout(), survivors(stripe, erased));
      ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
      EXPECT_TRUE(*decoded == data) << erasure_backend_name(backend) << " k=" << s.k;
    }
  }
  EXPECT_FALSE(ErasureCoder::create({200, 57, ErasureBackend::kIsal}).is_ok());
  EXPECT_FALSE(ErasureCoder::create({0, 2, ErasureBackend::kIsal}).is_ok());
  EXPECT_FALSE(ErasureCoder::create({4, 0, ErasureBackend::kIsal}).is_ok());
  EXPECT_FALSE(ErasureCoder::create({4, 2, ErasureBackend::kJerasureCauchy, 12}).is_ok());
}

// The backends must be exactly the libraries' codes, not look-alikes: compare parity with raw calls.
TEST(Erasure, ParityMatchesRawLibraries) {
  const uint32_t k = 6, m = 3;
  const Bytes data = pattern_bytes(6 * 4096, 5);
  for (ErasureBackend backend : kBackends) {
    ErasureCoder coder = make_coder(k, m, backend);
    Stripe stripe;
    ASSERT_TRUE(coder.encode(data, stripe).is_ok());
    const uint64_t size = stripe.layout().fragment_bytes;
    ASSERT_EQ(size, 4096u);
    std::vector<Bytes> parity(m, Bytes(size));
    std::vector<char*> d(k), c(m);
    for (uint32_t i = 0; i < k; ++i) d[i] = reinterpret_cast<char*>(const_cast<uint8_t*>(stripe.fragment(i).data()));
    for (uint32_t i = 0; i < m; ++i) c[i] = reinterpret_cast<char*>(parity[i].data());
    if (backend == ErasureBackend::kJerasureVandermonde) {
      int* matrix = reed_sol_vandermonde_coding_matrix(k, m, 8);
      jerasure_matrix_encode(k, m, 8, matrix, d.data(), c.data(), static_cast<int>(size));
      std::free(matrix);
    } else if (backend == ErasureBackend::kJerasureCauchy) {
      int* matrix = cauchy_good_general_coding_matrix(k, m, 8);
      int* bits = jerasure_matrix_to_bitmatrix(k, m, 8, matrix);
      int** schedule = jerasure_smart_bitmatrix_to_schedule(k, m, 8, bits);
      jerasure_schedule_encode(k, m, 8, schedule, d.data(), c.data(), static_cast<int>(size),
                               static_cast<int>(stripe.layout().packet_bytes));
      jerasure_free_schedule(schedule);
      std::free(bits);
      std::free(matrix);
    } else {
      std::vector<uint8_t> a((k + m) * k), tables(32 * k * m);
      gf_gen_cauchy1_matrix(a.data(), k + m, k);
      ec_init_tables(k, m, &a[k * k], tables.data());
      ec_encode_data(static_cast<int>(size), k, m, tables.data(), reinterpret_cast<uint8_t**>(d.data()),
                     reinterpret_cast<uint8_t**>(c.data()));
    }
    for (uint32_t i = 0; i < m; ++i) {
      EXPECT_TRUE(std::equal(parity[i].begin(), parity[i].end(), stripe.fragment(k + i).begin()))
          << erasure_backend_name(backend) << " parity " << i;
    }
  }
}

TEST(Erasure, LayoutPadsOnlyToTheUnit) {
  for (ErasureBackend backend : kBackends) {
    ErasureCoder coder = make_coder(10, 4, backend);
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{65536}, uint64_t{1} << 20, uint64_t{4} << 20}) {
      Result<StripeLayout> layout = coder.layout(size);
      ASSERT_TRUE(layout.is_ok());
      EXPECT_TRUE(validate_stripe_layout(*layout).is_ok());
      EXPECT_GE(layout->k * layout->fragment_bytes, size);
      EXPECT_EQ(layout->fragment_bytes % layout->unit_bytes(), 0u);
      if (size >= 65536) {  // padding stays below 2% for realistic writes, Cauchy included
        EXPECT_LT(double(layout->k * layout->fragment_bytes - size) / double(size), 0.02) << erasure_backend_name(backend);
      }
    }
  }
  ErasureCoder cauchy = make_coder(10, 4, ErasureBackend::kJerasureCauchy, 4096);
  EXPECT_EQ(cauchy.layout(65536)->packet_bytes % 8, 0u);
  EXPECT_LE(cauchy.layout(uint64_t{4} << 20)->packet_bytes, 4096u);
  EXPECT_FALSE(make_coder(2, 1, ErasureBackend::kIsal).layout(uint64_t{3} << 30).is_ok());
}

TEST(Erasure, ValidateLayoutRejectsLies) {
  ErasureCoder coder = make_coder(4, 2, ErasureBackend::kJerasureCauchy);
  StripeLayout good = *coder.layout(100000);
  ASSERT_TRUE(validate_stripe_layout(good).is_ok());
  StripeLayout bad = good;
  bad.fragment_bytes += bad.unit_bytes();
  EXPECT_EQ(validate_stripe_layout(bad).code(), StatusCode::kMalformed);
  bad = good;
  bad.payload_bytes = 4 * good.fragment_bytes + 1;
  EXPECT_FALSE(validate_stripe_layout(bad).is_ok());
  bad = good;
  bad.packet_bytes = 12;
  EXPECT_FALSE(validate_stripe_layout(bad).is_ok());
  bad = good;
  bad.k = 255;
  bad.m = 2;
  EXPECT_FALSE(validate_stripe_layout(bad).is_ok());
  bad = good;
  bad.backend = static_cast<ErasureBackend>(9);
  EXPECT_FALSE(validate_stripe_layout(bad).is_ok());
  bad = good;
  bad.backend = ErasureBackend::kIsal;  // matrix backends carry no packet size
  EXPECT_FALSE(validate_stripe_layout(bad).is_ok());
}

TEST(Erasure, RepairRebuildsParityAndWindows) {
  for (ErasureBackend backend : kBackends) {
    ErasureCoder coder = make_coder(4, 3, backend, 512);
    const Bytes data = pattern_bytes(4 * 4096 * 3 + 100, 17);
    Stripe stripe;
    ASSERT_TRUE(coder.encode(data, stripe).is_ok());
    const StripeLayout& layout = stripe.layout();
    // Lose data 1 and parity 5; rebuild both from the other five.
    Bytes lost_data(layout.fragment_bytes), lost_parity(layout.fragment_bytes);
    std::vector<FragmentTarget> targets = {{5, lost_parity}, {1, lost_data}};
    ASSERT_TRUE(coder.reconstruct(layout, 0, survivors(stripe, {1, 5}), targets).is_ok());
    EXPECT_TRUE(std::equal(lost_data.begin(), lost_data.end(), stripe.fragment(1).begin()));
    EXPECT_TRUE(std::equal(lost_parity.begin(), lost_parity.end(), stripe.fragment(5).begin()));
    // A window of one unit in the middle, from parity-heavy sources.
    const uint64_t unit = layout.unit_bytes(), offset = unit * 2;
    ASSERT_LE(offset + unit, layout.fragment_bytes);
    std::vector<FragmentView> windows;
    for (uint32_t i : {2u, 4u, 5u, 6u}) windows.push_back({i, stripe.fragment(i).subspan(offset, unit)});
    Bytes window(unit);
    std::vector<FragmentTarget> one = {{0, window}};
    ASSERT_TRUE(coder.reconstruct(layout, offset, windows, one).is_ok());
    EXPECT_TRUE(std::equal(window.begin(), window.end(), stripe.fragment(0).begin() + offset));
    // Misaligned window start is refused; too few sources are unavailable.
    EXPECT_EQ(coder.reconstruct(layout, offset + 8, windows, one).code(), StatusCode::kInvalidArgument);
    windows.pop_back();
    EXPECT_EQ(coder.reconstruct(layout, offset, windows, one).code(), StatusCode::kUnavailable);
  }
}

// Sources at odd addresses (e.g. fragments parsed out of a network buffer) go through staging, since
// gf-complete aborts on mismatched alignment.
TEST(Erasure, MisalignedSourcesAreStaged) {
  for (ErasureBackend backend : kBackends) {
    ErasureCoder coder = make_coder(4, 2, backend);
    const Bytes data = pattern_bytes(40000, 3);
    Stripe stripe;
    ASSERT_TRUE(coder.encode(data, stripe).is_ok());
    const uint64_t size = stripe.layout().fragment_bytes;
    Bytes shifted(6 * size + 1);
    std::vector<FragmentView> views;
    for (uint32_t i : {1u, 2u, 4u, 5u}) {
      uint8_t* at = shifted.data() + 1 + i * size;
      std::copy(stripe.fragment(i).begin(), stripe.fragment(i).end(), at);
      views.push_back({i, {at, size}});
    }
    Result<Bytes> decoded = coder.decode(stripe.layout(), views);
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_TRUE(*decoded == data) << erasure_backend_name(backend);
  }
}

TEST(Erasure, DecodeRejectsBadInput) {
  ErasureCoder coder = make_coder(4, 2, ErasureBackend::kIsal);
  const Bytes data = pattern_bytes(1000, 1);
  Stripe stripe;
  ASSERT_TRUE(coder.encode(data, stripe).is_ok());
  auto views = survivors(stripe, {0, 1});
  views.pop_back();
  EXPECT_EQ(coder.decode(stripe.layout(), views).status().code(), StatusCode::kUnavailable);
  views = survivors(stripe, {});
  views[2].bytes = views[2].bytes.first(10);
  EXPECT_EQ(coder.decode(stripe.layout(), views).status().code(), StatusCode::kInvalidArgument);
  views = survivors(stripe, {});
  views[0].index = 6;
  EXPECT_EQ(coder.decode(stripe.layout(), views).status().code(), StatusCode::kInvalidArgument);
  ErasureCoder other = make_coder(4, 2, ErasureBackend::kJerasureVandermonde);
  EXPECT_EQ(other.decode(stripe.layout(), survivors(stripe, {})).status().code(), StatusCode::kInvalidArgument);
  Bytes small(999);
  EXPECT_EQ(coder.decode(stripe.layout(), survivors(stripe, {}), small).code(), StatusCode::kInvalidArgument);
}

TEST(Erasure, DecodingPatternsAreCachedAndStripesReusable) {
  ErasureCoder coder = make_coder(6, 3, ErasureBackend::kIsal);
  Stripe stripe;
  for (int round = 0; round < 3; ++round) {
    const Bytes data = pattern_bytes(30000 - round * 10000, round);  // shrinking: allocation is reused
    ASSERT_TRUE(coder.encode(data, stripe).is_ok());
    Result<Bytes> decoded = coder.decode(stripe.layout(), survivors(stripe, {0, 2, 4}));
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_TRUE(*decoded == data);
  }
  EXPECT_EQ(coder.cached_patterns(), 1u);
  EXPECT_TRUE(coder.decode(stripe.layout(), survivors(stripe, {1})).is_ok());
  EXPECT_EQ(coder.cached_patterns(), 2u);
}

TEST(Erasure, BackendNamesRoundTrip) {
  for (ErasureBackend backend : kBackends) {
    EXPECT_EQ(erasure_backend_from_name(erasure_backend_name(backend)), backend);
  }
  EXPECT_FALSE(erasure_backend_from_name("jerasure").has_value());
  EXPECT_FALSE(erasure_backend_valid(0));
  EXPECT_FALSE(erasure_backend_valid(4));
}

}  // namespace
}  // namespace pbfs
