// predict/visualize front end: checkpoint vs a direct LibTorch forward, raw input / logits
// files, clear errors, and (when built) the `tinyvit predict` command itself.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/image_decode.h"
#include "export/litert_runner.h"
#include "export/tflite_export.h"
#include "export/verify.h"
#include "models/checkpoint.h"
#include "models/registry.h"
#include "report/canvas.h"
#include "report/inference.h"

using namespace tinyvit;
namespace fs = std::filesystem;

namespace {

const std::vector<float> kMean{0.45f, 0.5f, 0.55f}, kStd{0.2f, 0.25f, 0.3f};

struct Fixture {
  fs::path dir;
  std::string ckpt;
  models::ClassifierPtr model;
};

// A tiny ViT (16x16 input) saved as a checkpoint with mean/std/class names, built once.
const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.dir = fs::temp_directory_path() / ("tinyvit_predict_" + std::to_string(::getpid()));
    fs::create_directories(x.dir);
    torch::manual_seed(7);
    auto c = models::model_config("vit_micro_patch4_32", 5);
    c.vit.img_size = 16;
    c.vit.depth = 2;
    c.vit.embed_dim = 32;
    c.vit.num_heads = 2;
    x.model = models::build_model(c);
    x.model->eval();
    x.ckpt = (x.dir / "tiny.pt").string();
    models::save_checkpoint(x.ckpt, *x.model,
                            {{"mean", kMean},
                             {"std", kStd},
                             {"class_names", {"ant", "bee", "cat", "dog", "eel"}},
                             {"input_size", 16}});
    return x;
  }();
  return f;
}

// A PNG of the given size with a smooth pattern; returns its path.
std::string write_test_png(const std::string& name, int w, int h, int seed) {
  report::Canvas c(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      c.set(x, y, report::Rgb{uint8_t((x * 7 + seed * 40) % 256), uint8_t((y * 5 + seed) % 256),
                              uint8_t((x * y + seed * 3) % 256)});
  const auto path = (fixture().dir / name).string();
  report::write_png(path, c);
  return path;
}

torch::Tensor direct_forward(const torch::Tensor& normalized) {
  torch::NoGradGuard ng;
  return fixture().model->forward(normalized);
}

std::vector<float> read_floats(const std::string& path) {
  const std::string b = read_file_bytes(path);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

}  // namespace

TEST(Predict, CheckpointMatchesDirectLibTorchForward) {
  const auto& f = fixture();
  auto m = report::open_model(f.ckpt);
  EXPECT_EQ(m->input_size(), 16);
  EXPECT_EQ(m->num_classes(), 5);
  EXPECT_EQ(m->class_names()[2], "cat");
  // Images of other sizes than the model input: decoded, resized to 16x16.
  const std::vector<std::pair<int, int>> sizes{{16, 16}, {50, 37}, {9, 12}};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto path = write_test_png("img" + std::to_string(i) + ".png", sizes[i].first,
                                     sizes[i].second, int(i));
    const auto px = report::load_image_pixels(path, 16).unsqueeze(0);
    const auto logits = m->logits_from_pixels(px);

    // Reference: decode + resize ourselves, normalize, run the module directly.
    const std::string bytes = read_file_bytes(path);
    std::vector<uint8_t> hwc(16 * 16 * 3);
    std::string why;
    ASSERT_TRUE(data::decode_image_to(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                      16, hwc.data(), &why));
    auto x = torch::from_blob(hwc.data(), {1, 16, 16, 3}, torch::kUInt8)
                 .permute({0, 3, 1, 2})
                 .to(torch::kFloat32) / 255.f;
    x = (x - torch::tensor(kMean).view({1, 3, 1, 1})) / torch::tensor(kStd).view({1, 3, 1, 1});
    const auto ref = direct_forward(x);
    EXPECT_TRUE(torch::allclose(logits, ref, 1e-5, 1e-6)) << (logits - ref).abs().max();
    const auto top = report::top_k(logits, 5);
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].classes[0], ref.argmax(1).item<int64_t>());
    double sum = 0;
    for (size_t j = 0; j < top[0].probs.size(); ++j) {
      sum += top[0].probs[j];
      if (j) {
        EXPECT_GE(top[0].probs[j - 1], top[0].probs[j]);
      }
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  // k is clamped to the class count.
  EXPECT_EQ(report::top_k(torch::randn({2, 5}), 99)[1].classes.size(), 5u);
}

TEST(Predict, RawInputAndDumpedLogitsRoundTrip) {
  const auto& f = fixture();
  auto m = report::open_model(f.ckpt);
  torch::manual_seed(1);
  const auto x = torch::randn({1, 3, 16, 16});
  const auto in_path = (f.dir / "in.bin").string();
  write_bytes_atomic(in_path, x.data_ptr<float>(), x.numel() * sizeof(float));
  const auto back = report::read_raw_input(in_path, 16);
  EXPECT_TRUE(torch::equal(back, x));
  const auto logits = m->logits_from_normalized(back);
  const auto out_path = (f.dir / "out.bin").string();
  report::write_raw_floats(out_path, logits);
  const auto dumped = read_floats(out_path);
  const auto ref = direct_forward(x).contiguous();
  ASSERT_EQ(dumped.size(), 5u);
  for (size_t i = 0; i < dumped.size(); ++i) EXPECT_NEAR(dumped[i], ref.data_ptr<float>()[i], 1e-6);
}

TEST(Predict, ClearErrors) {
  const auto& f = fixture();
  // Raw input of the wrong size names the expected byte count.
  const auto bad = (f.dir / "short.bin").string();
  std::vector<float> v(100);
  write_bytes_atomic(bad, v.data(), v.size() * 4);
  try {
    report::read_raw_input(bad, 16);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3072 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("400 bytes"), std::string::npos) << e.what();
  }
  // Missing / corrupt images.
  EXPECT_THROW(report::load_image_pixels((f.dir / "nope.png").string(), 16), Error);
  const auto corrupt = (f.dir / "corrupt.png").string();
  const std::string png = read_file_bytes(write_test_png("ok.png", 20, 20, 1));
  write_bytes_atomic(corrupt, png.data(), png.size() / 2);
  EXPECT_THROW(report::load_image_pixels(corrupt, 16), Error);
  const auto text = (f.dir / "notes.txt").string();
  write_text_atomic(text, "hello, not a model or an image\n");
  EXPECT_THROW(report::load_image_pixels(text, 16), Error);
  // Unknown model file type.
  try {
    report::open_model(text);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model file type"), std::string::npos);
  }
  EXPECT_THROW(report::open_model((f.dir / "missing.pt").string()), Error);
  // Wrong input shape; wrong number of class names.
  auto m = report::open_model(f.ckpt);
  EXPECT_THROW(m->logits_from_normalized(torch::zeros({1, 3, 32, 32})), Error);
  EXPECT_THROW(m->set_class_names({"a", "b"}), Error);
}

// The command itself, when the tinyvit binary is built in this build tree.
TEST(PredictCli, RawInputDumpLogitsAndErrors) {
  const std::string exe = std::string(TINYVIT_BINARY_DIR) + "/tinyvit";
  ASSERT_TRUE(fs::exists(exe)) << exe << " not built (build the tinyvit target)";
  const auto& f = fixture();
  torch::manual_seed(2);
  const auto x = torch::randn({1, 3, 16, 16});
  const auto in_path = (f.dir / "cli_in.bin").string();
  const auto out_path = (f.dir / "cli_out.bin").string();
  const auto log = (f.dir / "cli.log").string();
  write_bytes_atomic(in_path, x.data_ptr<float>(), x.numel() * sizeof(float));
  const std::string base = exe + " predict --model " + f.ckpt;
  ASSERT_EQ(std::system((base + " --raw-input " + in_path + " --dump-logits " + out_path +
                         " --top-k 3 > " + log + " 2>&1").c_str()),
            0)
      << read_file_bytes(log);
  const auto dumped = read_floats(out_path);
  const auto ref = direct_forward(x).contiguous();
  ASSERT_EQ(dumped.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(dumped[i], ref.data_ptr<float>()[i], 1e-6);
  const std::string printed = read_file_bytes(log);
  const std::vector<std::string> names{"ant", "bee", "cat", "dog", "eel"};
  EXPECT_NE(printed.find("1. " + names[ref.argmax(1).item<int64_t>()]), std::string::npos)
      << printed;

  // Images of any size.
  const auto a = write_test_png("cli_a.png", 40, 30, 3), b = write_test_png("cli_b.png", 8, 8, 4);
  ASSERT_EQ(std::system((base + " " + a + " " + b + " > " + log + " 2>&1").c_str()), 0)
      << read_file_bytes(log);
  EXPECT_NE(read_file_bytes(log).find("cli_b.png"), std::string::npos);

  // Wrong-size raw input: non-zero exit and the expected byte count.
  const auto bad = (f.dir / "cli_bad.bin").string();
  write_bytes_atomic(bad, x.data_ptr<float>(), 1000);
  EXPECT_NE(std::system((base + " --raw-input " + bad + " > " + log + " 2>&1").c_str()), 0);
  EXPECT_NE(read_file_bytes(log).find("3072 bytes"), std::string::npos) << read_file_bytes(log);
  // Missing image.
  EXPECT_NE(std::system((base + " " + (f.dir / "missing.jpg").string() + " > " + log + " 2>&1")
                            .c_str()),
            0);
  EXPECT_NE(read_file_bytes(log).find("missing.jpg"), std::string::npos);
}

// `tinyvit export` stores the checkpoint's class names in the file's metadata, so predict on
// the .tflite names the classes as the checkpoint does (it printed class_0.. before).
TEST(PredictCli, ExportedFileCarriesTheClassNames) {
  const std::string exe = std::string(TINYVIT_BINARY_DIR) + "/tinyvit";
  ASSERT_TRUE(fs::exists(exe)) << exe << " not built (build the tinyvit target)";
  const auto& f = fixture();
  const auto tfl = (f.dir / "named.tflite").string(), log = (f.dir / "named.log").string();
  ASSERT_EQ(std::system((exe + " export --model " + f.ckpt + " -o " + tfl + " > " + log +
                         " 2>&1").c_str()),
            0)
      << read_file_bytes(log);
  const auto meta = exporter::read_tinyvit_metadata(tfl);
  const std::vector<std::string> names{"ant", "bee", "cat", "dog", "eel"};
  ASSERT_TRUE(meta.contains("class_names")) << meta.dump();
  EXPECT_EQ(meta["class_names"].get<std::vector<std::string>>(), names);
  const auto img = write_test_png("named.png", 21, 17, 6);
  ASSERT_EQ(std::system((exe + " predict --model " + tfl + " --top-k 5 " + img + " > " + log +
                         " 2>&1").c_str()),
            0)
      << read_file_bytes(log);
  const std::string printed = read_file_bytes(log);
  for (const auto& n : names) EXPECT_NE(printed.find(n), std::string::npos) << printed;
  EXPECT_EQ(printed.find("class_"), std::string::npos) << printed;
  // The .tflite itself (how the int8 file from `tinyvit quantize` reaches firmware) as a C
  // array: the same bytes, the names from its metadata; other formats and targets refused.
  const auto prefix = (f.dir / "named_fw").string();
  ASSERT_EQ(std::system((exe + " export --model " + tfl + " --format c-array -o " + prefix +
                         ".cc > " + log + " 2>&1").c_str()),
            0)
      << read_file_bytes(log);
  const std::string cc = read_file_bytes(prefix + ".cc");
  std::string parsed;
  for (std::size_t p = cc.find("0x"); p != std::string::npos; p = cc.find("0x", p + 4))
    parsed.push_back(static_cast<char>(std::stoi(cc.substr(p + 2, 2), nullptr, 16)));
  EXPECT_EQ(parsed, read_file_bytes(tfl));
  for (const auto& n : names) EXPECT_NE(cc.find("\"" + n + "\","), std::string::npos) << n;
  EXPECT_NE(std::system((exe + " export --model " + tfl + " -o " + prefix + ".tflite > " + log +
                         " 2>&1").c_str()),
            0);
  EXPECT_NE(read_file_bytes(log).find("needs a checkpoint"), std::string::npos)
      << read_file_bytes(log);
  // A name list that does not fit the model is refused, not stored.
  exporter::ExportOptions eo;
  eo.mean = kMean;
  eo.std = kStd;
  eo.class_names = {"ant", "bee"};
  EXPECT_THROW(exporter::export_tflite(*f.model, eo), Error);
}

// A .tflite export of the same model behind the same interface, in both backends: LiteRT.js
// (a runtime we did not write) and tinyvit's own runtime. 1e-3: the float32 bound on
// |logit diff| for a whole model (measured ~1e-6).
TEST(Predict, TfliteBackendsAgreeWithCheckpoint) {
  // LiteRT.js missing is a failure (run scripts/install-deps.sh --test), never a skip.
  ASSERT_NO_THROW(exporter::check_litert_available());
  const auto& f = fixture();
  exporter::ExportOptions eo;
  eo.mean = kMean;
  eo.std = kStd;
  const auto r = exporter::export_tflite(*f.model, eo);
  const auto path = (f.dir / "tiny.tflite").string();
  exporter::write_tflite(path, r.bytes);
  EXPECT_EQ(report::detect_model_file(path), report::ModelFileType::kTflite);
  EXPECT_EQ(report::detect_model_file(f.ckpt), report::ModelFileType::kCheckpoint);
  auto c = report::open_model(f.ckpt);
  std::vector<torch::Tensor> px;
  for (int i = 0; i < 3; ++i)
    px.push_back(report::load_image_pixels(
        write_test_png("tfl" + std::to_string(i) + ".png", 20 + i, 24, i + 5), 16));
  const auto batch = torch::stack(px);
  const auto lc = c->logits_from_pixels(batch);
  for (const auto backend : {report::TfliteBackend::kLiteRT, report::TfliteBackend::kRuntime}) {
    auto t = report::open_model(path, backend);
    SCOPED_TRACE(t->kind());
    EXPECT_EQ(t->input_size(), 16);
    EXPECT_EQ(t->num_classes(), 5);
    const auto lt = t->logits_from_pixels(batch);
    EXPECT_LE((lt - lc).abs().max().item<float>(), 1e-3f);
    EXPECT_TRUE(torch::equal(lt.argmax(1), lc.argmax(1)));
    // Raw (normalized) input through the .tflite: de-normalized back to pixels inside.
    torch::manual_seed(4);
    const auto x = torch::randn({1, 3, 16, 16});
    EXPECT_LE((t->logits_from_normalized(x) - direct_forward(x)).abs().max().item<float>(), 1e-3f);
  }
  EXPECT_THROW(report::parse_tflite_backend("tflm"), Error);
}
