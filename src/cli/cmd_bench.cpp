// tinyvit bench MODEL.tflite [--runs N] [--warmup N] [--kernels auto|reference]
//     [--arithmetic reference|litert] [--litert]
//                            [--per-op] [--checkpoint CKPT] [--json FILE]
// Runs an exported .tflite in tinyvit's own runtime (runtime/, no LibTorch): batch-1 latency
// percentiles, arena bytes (planned, vs the sum of all activation tensors), file size; with
// --litert also LiteRT.js on the same file (its per-inference time, measured as the
// difference between a 1-sample and an N-sample run of one Node process, so start-up and
// model compilation are excluded); with --checkpoint CKPT also LibTorch's batch-1 forward of
// the checkpoint the file came from (normalization included, as in the file), 1 thread.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "export/litert_runner.h"
#include "report/inference.h"
#include "tinyvit_rt/runtime.h"

namespace tinyvit::cli {
namespace {

struct alignas(16) Block {
  uint8_t b[16];
};

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

void register_bench_command(CLI::App& app) {
  struct Args {
    std::string model;
    int runs = 200, warmup = 10;
    std::string kernels = "auto";
    std::string arithmetic = "reference";
    bool litert = false, per_op = false;
    std::string json_out;
    std::string checkpoint;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Latency, arena memory and size of an exported .tflite "
                                          "in tinyvit's runtime (and LiteRT.js with --litert)");
  cmd->add_option("model", a->model, ".tflite file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--runs", a->runs, "Timed inferences")->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Untimed inferences first")->capture_default_str();
  cmd->add_option("--kernels", a->kernels, "auto (fastest for this CPU) | reference")
      ->check(CLI::IsMember({"auto", "reference"}))
      ->capture_default_str();
  cmd->add_option("--arithmetic", a->arithmetic,
                  "int8 arithmetic: reference (TFLite's reference kernels, as on a "
                  "microcontroller) | litert (LiteRT's CPU arithmetic; portable kernels)")
      ->check(CLI::IsMember({"reference", "litert"}))
      ->capture_default_str();
  cmd->add_flag("--litert", a->litert, "Also time LiteRT.js on the same file");
  cmd->add_flag("--per-op", a->per_op, "Time per op type");
  cmd->add_option("--json", a->json_out, "Write the numbers as JSON");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Also time LibTorch's batch-1 forward of this checkpoint (1 thread)")
      ->check(CLI::ExistingFile);
  cmd->callback([a] {
    using namespace tinyvit::rt;
    const std::string raw = read_file_bytes(a->model);
    std::vector<Block> model(raw.size() / 16 + 1);
    std::memcpy(model.data(), raw.data(), raw.size());
    Interpreter it;
    LoadOptions lo;
    lo.kernels = a->kernels == "reference" ? KernelSet::kReference : KernelSet::kAuto;
    lo.arithmetic = a->arithmetic == "litert" ? Int8Arithmetic::kLiteRt : Int8Arithmetic::kReference;
    const auto t0 = std::chrono::steady_clock::now();
    if (it.load(model.data(), raw.size(), lo) != Status::kOk)
      throw Error("bench: " + a->model + ": " + it.error());
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<Block> arena(it.arena_bytes_needed() / 16 + 1);
    if (it.allocate(arena.data(), arena.size() * 16) != Status::kOk)
      throw Error(std::string("bench: ") + it.error());
    // Seeded inputs in the input's natural range ([0, 1] pixels for float).
    std::mt19937 rng(0);
    for (int i = 0; i < it.num_inputs(); ++i) {
      const TensorView in = it.input(i);
      for (std::size_t k = 0; k < in.bytes / dtype_size(in.type); ++k) {
        if (in.type == DType::kFloat32)
          static_cast<float*>(in.data)[k] = std::uniform_real_distribution<float>(0.f, 1.f)(rng);
        else if (in.type == DType::kInt8)
          static_cast<int8_t*>(in.data)[k] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
      }
    }
    for (int i = 0; i < a->warmup; ++i) it.invoke();
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, a->runs); ++i) {
      const auto s = std::chrono::steady_clock::now();
      it.invoke();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    }
    int fast = 0;
    for (int i = 0; i < it.num_ops(); ++i) fast += std::strcmp(it.op_kernel(i), "reference") != 0;
    nlohmann::json j;
    j["model"] = a->model;
    j["file_bytes"] = raw.size();
    j["ops"] = it.num_ops();
    j["ops_fast_kernel"] = fast;
    j["kernels"] = a->kernels;
    j["arithmetic"] = a->arithmetic;
    j["cpu_avx2_fma"] = cpu_has_avx2_fma();
    j["arena_bytes"] = it.arena_bytes_needed();
    j["activation_bytes_sum"] = it.activation_bytes_total();
    j["load_ms"] = load_ms;
    j["latency_ms"] = {{"p50", pct(ms, 0.5)}, {"p90", pct(ms, 0.9)}, {"p99", pct(ms, 0.99)},
                       {"min", *std::min_element(ms.begin(), ms.end())}, {"runs", ms.size()}};
    std::cout << fmt::format("{}: {} bytes, {} ops ({} on {} kernels), input {}\n", a->model,
                             raw.size(), it.num_ops(), fast, fast ? "avx2" : "reference",
                             dtype_name(it.input(0).type));
    std::cout << fmt::format("arena {} bytes (sum of all activations {} bytes, planner saves {:.0f}%)\n",
                             it.arena_bytes_needed(), it.activation_bytes_total(),
                             100.0 * (1.0 - double(it.arena_bytes_needed()) /
                                                std::max<double>(1, it.activation_bytes_total())));
    std::cout << fmt::format("tinyvit runtime latency (batch 1, 1 thread, {} runs): p50 {:.3f} ms  "
                             "p90 {:.3f} ms  p99 {:.3f} ms\n",
                             ms.size(), pct(ms, 0.5), pct(ms, 0.9), pct(ms, 0.99));
    if (a->per_op) {
      std::map<std::string, double> by_op;
      for (int r = 0; r < 20; ++r)
        for (int i = 0; i < it.num_ops(); ++i) {
          const auto s = std::chrono::steady_clock::now();
          it.invoke_op(i);
          by_op[it.op_name(i)] +=
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count() / 20;
        }
      for (const auto& [name, t] : by_op) {
        std::cout << fmt::format("  {:<20} {:8.3f} ms\n", name, t);
        j["per_op_ms"][name] = t;
      }
    }
    if (a->litert) {
      // Per-inference LiteRT.js time = (T(N) - T(1)) / (N - 1), both one Node process.
      const int n = std::max(2, std::min(a->runs, 200));
      std::size_t per_in = 0;
      for (int i = 0; i < it.num_inputs(); ++i) per_in += it.input(i).bytes;
      std::vector<uint8_t> in(per_in * static_cast<std::size_t>(n));
      std::size_t off = 0;
      for (int s = 0; s < n; ++s)
        for (int i = 0; i < it.num_inputs(); ++i) {
          std::memcpy(in.data() + off, it.input(i).data, it.input(i).bytes);
          off += it.input(i).bytes;
        }
      auto time_litert = [&](int samples) {
        const auto s = std::chrono::steady_clock::now();
        exporter::run_litert(a->model, in.data(), per_in * static_cast<std::size_t>(samples));
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
      };
      const double t1 = std::min(time_litert(1), time_litert(1));
      const double tn = time_litert(n);
      const double per = (tn - t1) / (n - 1);
      j["litert_ms_per_inference"] = per;
      j["speedup_vs_litert"] = per / pct(ms, 0.5);
      std::cout << fmt::format("LiteRT.js (wasm, 1 thread, same file): {:.3f} ms per inference -> "
                               "tinyvit runtime is {:.2f}x {}\n",
                               per, per / pct(ms, 0.5), per >= pct(ms, 0.5) ? "faster" : "(slower)");
    }
    if (!a->checkpoint.empty()) {
      // LibTorch, batch 1, 1 thread (as the runtime and LiteRT.js here), same pixels when the
      // file takes float NHWC pixels in [0, 1].
      auto ck = report::open_model(a->checkpoint);
      const int S = ck->input_size();
      torch::manual_seed(0);
      torch::Tensor px = torch::rand({1, 3, S, S});
      const TensorView in = it.input(0);
      if (in.type == DType::kFloat32 && in.bytes == static_cast<std::size_t>(3 * S * S) * 4)
        px = torch::from_blob(in.data, {1, S, S, 3}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous();
      const int threads_before = torch::get_num_threads();
      torch::set_num_threads(1);
      torch::InferenceMode guard;
      for (int i = 0; i < a->warmup; ++i) ck->logits_from_pixels(px);
      std::vector<double> tms;
      for (int i = 0; i < std::max(1, a->runs); ++i) {
        const auto s = std::chrono::steady_clock::now();
        ck->logits_from_pixels(px);
        tms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
      }
      torch::set_num_threads(threads_before);
      j["libtorch_ms_p50"] = pct(tms, 0.5);
      j["speedup_vs_libtorch"] = pct(tms, 0.5) / pct(ms, 0.5);
      std::cout << fmt::format("LibTorch (float32 checkpoint, 1 thread): p50 {:.3f} ms -> tinyvit runtime "
                               "is {:.2f}x {}\n",
                               pct(tms, 0.5), pct(tms, 0.5) / pct(ms, 0.5),
                               pct(tms, 0.5) >= pct(ms, 0.5) ? "faster" : "(slower)");
    }
    if (!a->json_out.empty()) write_text_atomic(a->json_out, j.dump(2) + "\n");
  });
}

}  // namespace tinyvit::cli
