// Calibration: each kernel runs in a loop until a CPU-time budget is used, best of three repetitions, at
// several sizes; the per-call overhead is the time of the smallest call. The kernels are the very
// functions the data path runs (RecordCipher, ErasureCoder, crc32c), so the model charges what the
// real mode would spend.
#include "apps/calibrate.h"

#include <time.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "coding/checksum.h"
#include "coding/cost_model.h"
#include "coding/erasure.h"

namespace pbfs {
namespace {

struct Settings {
  std::string out_path;
  bool quick = false;
  std::chrono::nanoseconds budget{std::chrono::milliseconds(20)};  // per repetition
  std::vector<uint64_t> sizes = {4 << 10, 64 << 10, 1 << 20, 4 << 20};
  std::vector<std::pair<uint32_t, uint32_t>> shapes = {{4, 2}, {6, 3}, {8, 4}, {10, 4}, {12, 4}};
};

// This thread's CPU time: what the model charges is CPU work, and on a shared machine wall time would
// also count the time other processes held the core.
std::chrono::nanoseconds thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Nanoseconds per call of `fn`: best of three timed loops of at least `budget` CPU time each.
double time_call(const std::function<void()>& fn, std::chrono::nanoseconds budget) {
  fn();  // warm caches and lazily built tables
  double best = 1e300;
  for (int rep = 0; rep < 3; ++rep) {
    uint64_t calls = 0;
    const auto start = thread_cpu_now();
    auto elapsed = std::chrono::nanoseconds(0);
    while (elapsed < budget) {
      for (int i = 0; i < 4; ++i) fn();
      calls += 4;
      elapsed = thread_cpu_now() - start;
    }
    best = std::min(best, double(elapsed.count()) / double(calls));
  }
  return best;
}

// Overhead from the smallest call, then one point per size (gbps = bytes per ns).
CostCurve measure(const Settings& s, uint64_t smallest, const std::function<std::function<void()>(uint64_t)>& make) {
  CostCurve curve;
  curve.overhead_ns = time_call(make(smallest), s.budget);
  for (uint64_t size : s.sizes) curve.points.push_back({size, double(size) / time_call(make(size), s.budget)});
  return curve;
}

void measure_aead(const Settings& s, CostModel& model) {
  FileKey key;
  key.bytes.fill(0x11);
  for (AeadAlgorithm algorithm : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    CryptoParams params;
    params.algorithm = algorithm;
    auto sealer = [&](uint64_t size) -> std::function<void()> {
      auto plain = std::make_shared<Bytes>(size, 1);
      auto sealed = std::make_shared<Bytes>(aead_sealed_bytes(size, params.segment_bytes));
      return [=] {  // a fresh record per call, as in the write pipeline: key derivation included
        auto cipher = RecordCipher::create(key, params, {1, {0, size}, {1, 1}});
        if (!cipher->seal(*plain, *sealed).is_ok()) std::abort();
      };
    };
    auto opener = [&](uint64_t size) -> std::function<void()> {
      auto plain = std::make_shared<Bytes>(size, 1);
      auto sealed = std::make_shared<Bytes>(aead_sealed_bytes(size, params.segment_bytes));
      if (!RecordCipher::create(key, params, {1, {0, size}, {1, 1}})->seal(*plain, *sealed).is_ok()) std::abort();
      return [=] {
        auto cipher = RecordCipher::create(key, params, {1, {0, size}, {1, 1}});
        if (!cipher->open(*sealed, *plain).is_ok()) std::abort();
      };
    };
    model.set(CostOp::aead_seal(algorithm), measure(s, 0, sealer));
    model.set(CostOp::aead_open(algorithm), measure(s, 0, opener));
  }
}

void measure_erasure(const Settings& s, CostModel& model) {
  for (ErasureBackend backend : {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal}) {
    for (auto [k, m] : s.shapes) {
      auto coder = std::make_shared<ErasureCoder>(std::move(ErasureCoder::create({k, m, backend}).value()));
      auto encoder = [=](uint64_t size) -> std::function<void()> {
        auto stripe = std::make_shared<Stripe>();
        if (!coder->encode(Bytes(size, 3), *stripe).is_ok()) std::abort();
        return [=] { coder->encode_parity(*stripe); };
      };
      // Rebuild the first m data fragments from the rest: the worst case a reader meets.
      auto decoder = [=](uint64_t size) -> std::function<void()> {
        auto stripe = std::make_shared<Stripe>();
        if (!coder->encode(Bytes(size, 3), *stripe).is_ok()) std::abort();
        const uint64_t n = stripe->layout().fragment_bytes;
        auto lost = std::make_shared<std::vector<Bytes>>(m, Bytes(n));
        std::vector<FragmentView> sources;
        for (uint32_t i = m; i < k + m; ++i) sources.push_back({i, stripe->fragment(i)});
        std::vector<FragmentTarget> targets;
        for (uint32_t i = 0; i < m; ++i) targets.push_back({i, (*lost)[i]});
        return [coder, stripe, lost, sources, targets] {  // `lost` owns the target buffers
          if (!coder->reconstruct(stripe->layout(), 0, sources, targets).is_ok()) std::abort();
        };
      };
      const uint64_t smallest = uint64_t{k} * kFragmentAlignment;
      model.set(CostOp::ec_encode(k, m, backend), measure(s, smallest, encoder));
      model.set(CostOp::ec_decode(k, m, backend), measure(s, smallest, decoder));
    }
  }
}

void measure_checksum(const Settings& s, CostModel& model) {
  model.set(CostOp::checksum(), measure(s, 64, [](uint64_t size) -> std::function<void()> {
              auto data = std::make_shared<Bytes>(size, 5);
              return [=] {
                volatile uint32_t sink = crc32c(*data);
                (void)sink;
              };
            }));
}

std::string machine_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads, one core measured";
}

const char* kUsage = "usage: pbfs calibrate [--out FILE] [--quick]\n"
                     "  Times AEAD, erasure coding and CRC32C on this machine and writes the cost model\n"
                     "  (YAML, as scenarios/cost-model.yaml) to FILE or standard output.\n"
                     "  --quick  short timing loops and fewer shapes (about a second; noisier figures)\n";

}  // namespace

int run_calibrate_command(const std::vector<std::string>& args) {
  Settings s;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--quick") {
      s.quick = true;
    } else if (args[i] == "--out" && i + 1 < args.size()) {
      s.out_path = args[++i];
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "pbfs calibrate: unknown or incomplete argument '" << args[i] << "'\n" << kUsage;
      return 2;
    }
  }
  if (s.quick) {
    s.budget = std::chrono::milliseconds(2);
    s.sizes = {4 << 10, 64 << 10, 1 << 20};
    s.shapes = {{4, 2}, {8, 4}, {10, 4}};
  }
  CostModel model;
  model.set_machine(machine_name());
  measure_aead(s, model);
  measure_erasure(s, model);
  measure_checksum(s, model);
  const std::string text = model.to_yaml();
  if (s.out_path.empty()) {
    std::cout << text;
    return 0;
  }
  std::ofstream out(s.out_path);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "pbfs calibrate: cannot write " << s.out_path << "\n";
    return 1;
  }
  std::cerr << "pbfs calibrate: wrote " << model.entries().size() << " operations to " << s.out_path << "\n";
  return 0;
}

}  // namespace pbfs
