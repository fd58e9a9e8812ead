// End to end: `tinyvit pipeline --preset smoke` on the real CIFAR-10 archive writes every
// artifact; the exported student runs in LiteRT.js and agrees with LibTorch; a rerun skips
// the finished training stages. The smoke preset enables [prune] and [quantize] too.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {

int run(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string s;
  while (fgets(buf, sizeof buf, p)) s += buf;
  const int status = pclose(p);
  if (out) *out = s;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream is(p);
  return nlohmann::json::parse(is);
}

const std::string kBin = std::string(TINYVIT_BINARY_DIR) + "/tinyvit";
const std::string kArchive = std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";

}  // namespace

TEST(Pipeline, SmokePresetEndToEnd) {
  ASSERT_TRUE(fs::exists(kArchive)) << "CIFAR-10 archive not found at " << kArchive;
  const fs::path dir = fs::temp_directory_path() / ("tinyvit_smoke_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string cmd = kBin + " pipeline --preset smoke --threads 2 --data " + kArchive +
                          " --out " + dir.string();
  std::string log;
  ASSERT_EQ(run(cmd, &log), 0) << log;
  for (const char* f : {"config.toml", "teacher.pt", "student.pt", "metrics.jsonl", "summary.json",
                        "pipeline.log", "model_f32.tflite", "teacher_f32.tflite", "verify.json",
                        "samples.png", "pruned.pt", "pruned.prune.json", "model_int8.tflite",
                        "quantize.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  {
    // samples.png: a real PNG (signature) whose IHDR width fits 8 tiles of 160 px images.
    std::ifstream png(dir / "samples.png", std::ios::binary);
    unsigned char h[24] = {};
    png.read(reinterpret_cast<char*>(h), sizeof h);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(h) + 1, 3), "PNG");
    const uint32_t width = (uint32_t(h[16]) << 24) | (uint32_t(h[17]) << 16) | (uint32_t(h[18]) << 8) | h[19];
    EXPECT_GE(width, 8u * 160u);
  }
  EXPECT_NE(log.find("teacher resnet18_cifar validation accuracy"), std::string::npos) << log;
  EXPECT_NE(log.find("student vit_micro_convtok_32 validation accuracy"), std::string::npos) << log;

  auto s = read_json(dir / "summary.json");
  EXPECT_EQ(s["student"]["val_images"], 200);
  const double acc = s["student"]["val_accuracy"];
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
  EXPECT_EQ(s["student"]["samples_png"]["images"], 32);
  // The exported float32 student vs LibTorch in a real TFLite runtime (LiteRT.js):
  // 1e-3 is the float32 bound on |logit diff| for a whole model.
  auto v = read_json(dir / "verify.json");
  EXPECT_EQ(v["student"]["images"], 100);
  EXPECT_LE(v["student"]["max_abs_logit_diff"].get<double>(), 1e-3);
  EXPECT_LE(v["teacher"]["max_abs_logit_diff"].get<double>(), 1e-3);
  // The same files in tinyvit's own runtime (second backend): same float32 bound vs LibTorch.
  for (const char* m : {"student", "teacher"}) {
    EXPECT_LE(v[m]["tinyvit_runtime"]["max_abs_logit_diff"].get<double>(), 1e-3) << m;
  }
  EXPECT_EQ(v["student"]["disagreements"].get<int64_t>() -
                v["student"]["near_tie_disagreements"].get<int64_t>(),
            0);

  // [prune]: a smaller model, evaluated, and the one that was exported.
  ASSERT_TRUE(s.contains("pruned")) << s.dump(2);
  EXPECT_LT(s["pruned"]["params"].get<int64_t>(), s["student"]["params"].get<int64_t>());
  EXPECT_LT(s["pruned"]["macs"].get<int64_t>(), s["student"]["macs"].get<int64_t>());
  EXPECT_EQ(s["pruned"]["val_images"], 200);
  EXPECT_GE(s["pruned"]["val_accuracy"].get<double>(), 0.0);
  EXPECT_LE(s["pruned"]["val_accuracy"].get<double>(), 1.0);
  EXPECT_EQ(s["pruned"]["prune"]["recover_epochs"], 1);
  EXPECT_EQ(v["student"]["checkpoint"], "pruned.pt");
  EXPECT_EQ(s["pruned"]["tflite"]["checkpoint"], "pruned.pt");
  // [quantize]: the int8 file of the pruned model, simulated and in LiteRT.js.
  ASSERT_TRUE(s.contains("int8")) << s.dump(2);
  const auto& q = s["int8"];
  EXPECT_EQ(q["checkpoint"], "pruned.pt");
  EXPECT_EQ(q["method"], "minmax");
  EXPECT_EQ(q["calib_images"], 32);
  EXPECT_EQ(q["eval_images"], 200);
  EXPECT_EQ(q["float32_file"], "model_f32.tflite");
  EXPECT_LT(q["size_ratio"].get<double>(), 0.35);
  EXPECT_EQ(q["bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(dir / "model_int8.tflite")));
  for (const char* k : {"float_accuracy", "int8_sim_accuracy", "top1_agreement"}) {
    EXPECT_GE(q[k].get<double>(), 0.0) << k;
    EXPECT_LE(q[k].get<double>(), 1.0) << k;
  }
  EXPECT_EQ(q["litert"]["images"], 50);
  // A barely trained model has many near-ties; the bound is loose on purpose (measured 0.94).
  EXPECT_GE(q["litert"]["top1_agreement_with_sim"].get<double>(), 0.8);
  // The exact simulation (LiteRT's integer arithmetic in LibTorch) is the file: same top-1 on
  // every image, whatever the near-ties.
  EXPECT_EQ(q["litert"]["top1_agreement_with_exact_sim"].get<double>(), 1.0);
  EXPECT_GE(q["int8_exact_accuracy"].get<double>(), 0.0);
  EXPECT_LE(q["int8_exact_accuracy"].get<double>(), 1.0);
  EXPECT_EQ(read_json(dir / "quantize.json")["file"]["bytes"], q["bytes"]);

  std::ifstream m(dir / "metrics.jsonl");
  int teacher_lines = 0, student_lines = 0, recover_lines = 0;
  for (std::string l; std::getline(m, l);) {
    auto j = nlohmann::json::parse(l);
    teacher_lines += j["stage"] == "teacher";
    student_lines += j["stage"] == "student";
    recover_lines += j["stage"] == "prune-recover";
  }
  EXPECT_EQ(teacher_lines, 1);
  EXPECT_EQ(student_lines, 1);
  EXPECT_EQ(recover_lines, 1);

  // Rerun: training stages are skipped, not repeated, and so is the quantization of the
  // unchanged pruned.pt (the int8 file stays as it was).
  const auto int8_time = fs::last_write_time(dir / "model_int8.tflite");
  ASSERT_EQ(run(cmd, &log), 0) << log;
  EXPECT_NE(log.find("already complete"), std::string::npos) << log;
  EXPECT_NE(log.find("[prune] '" + (dir / "pruned.pt").string() + "' is already complete"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("[prune-recover]"), std::string::npos) << log;
  EXPECT_NE(log.find("[quantize] '" + (dir / "model_int8.tflite").string() +
                     "' is up to date with pruned.pt; skipped"),
            std::string::npos)
      << log;
  EXPECT_EQ(fs::last_write_time(dir / "model_int8.tflite"), int8_time);
  EXPECT_EQ(read_json(dir / "summary.json")["int8"], q);

  // A damaged int8 file (size no longer the one quantize.json records) is made again.
  fs::resize_file(dir / "model_int8.tflite", 100);
  ASSERT_EQ(run(cmd, &log), 0) << log;
  EXPECT_EQ(log.find("up to date"), std::string::npos) << log;
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(dir / "model_int8.tflite")), q["bytes"].get<int64_t>());

  // Changing the configuration of an existing run directory is refused.
  EXPECT_EQ(run(kBin + " pipeline --preset quick --out " + dir.string(), &log), 1);
  EXPECT_NE(log.find("different configuration"), std::string::npos) << log;
  fs::remove_all(dir);
}

TEST(Pipeline, BadInputsGiveClearErrors) {
  std::string log;
  EXPECT_EQ(run(kBin + " pipeline --preset smoke --data /nonexistent/data.tar.gz --out /tmp/x_" +
                    std::to_string(getpid()),
                &log),
            1);
  EXPECT_NE(log.find("/nonexistent/data.tar.gz"), std::string::npos) << log;
  const fs::path cfg = fs::temp_directory_path() / ("bad_" + std::to_string(getpid()) + ".toml");
  std::ofstream(cfg) << "[teacher]\nepoch = 3\n";
  EXPECT_EQ(run(kBin + " pipeline --config " + cfg.string(), &log), 1);
  EXPECT_NE(log.find("unknown key 'epoch' in [teacher]"), std::string::npos) << log;
  std::ofstream(cfg) << "[quantize]\nenabled = true\nmethd = \"minmax\"\n";
  EXPECT_EQ(run(kBin + " pipeline --config " + cfg.string(), &log), 1);
  EXPECT_NE(log.find("unknown key 'methd' in [quantize]"), std::string::npos) << log;
  std::ofstream(cfg) << "[prune]\nenabled = true\nmlp_fraction = 0.5\n";
  EXPECT_EQ(run(kBin + " pipeline --config " + cfg.string(), &log), 1);
  EXPECT_NE(log.find("unknown key 'mlp_fraction' in [prune]"), std::string::npos) << log;
  fs::remove(cfg);
  EXPECT_EQ(run(kBin + " train --model vit_nano --data " + kArchive + " -o /tmp/never.pt", &log), 1);
  EXPECT_NE(log.find("unknown model 'vit_nano'"), std::string::npos) << log;
}

// Own data smaller than the preset's 5,000 validation images: the error names the data and the
// flag that fixes it; the fixed rerun into the same directory takes the new configuration,
// because the failed run left no checkpoint there. Once teacher.pt exists, a change is refused.
TEST(Pipeline, ValSizeTooLargeNamesTheFlagAndTheFixedRerunReplacesTheConfig) {
  ASSERT_TRUE(fs::exists(kArchive)) << "CIFAR-10 archive not found at " << kArchive;
  const fs::path dir = fs::temp_directory_path() / ("tinyvit_valsize_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string base = kBin + " pipeline --preset smoke --threads 2 --out " + dir.string();
  std::string log;
  ASSERT_EQ(run(base + " --data " + kArchive + " --val-size 50000", &log), 1) << log;
  EXPECT_NE(log.find(kArchive + ": val_size 50000 must be between 1 and the data set size - 1 "
                                "(49999); set it with --val-size N"),
            std::string::npos)
      << log;
  ASSERT_TRUE(fs::exists(dir / "config.toml"));
  EXPECT_FALSE(fs::exists(dir / "teacher.pt"));

  // Different config (val_size, data), no checkpoint yet: replaced. The missing data then stops it.
  ASSERT_EQ(run(base + " --data /nonexistent/own.tar.gz --val-size 100", &log), 1) << log;
  EXPECT_NE(log.find("has no checkpoint yet: replacing its config.toml"), std::string::npos) << log;
  EXPECT_NE(log.find("/nonexistent/own.tar.gz"), std::string::npos) << log;
  std::ifstream is(dir / "config.toml");
  const std::string stored((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
  EXPECT_NE(stored.find("val_size = 100\n"), std::string::npos) << stored;
  EXPECT_NE(stored.find("/nonexistent/own.tar.gz"), std::string::npos) << stored;

  std::ofstream(dir / "teacher.pt") << "work in progress";
  EXPECT_EQ(run(base + " --data " + kArchive + " --val-size 200", &log), 1) << log;
  EXPECT_NE(log.find("different configuration"), std::string::npos) << log;
  fs::remove_all(dir);
}
