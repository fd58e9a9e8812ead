// Pretrained-weight import, proven against PyTorch itself: make_reference.py (run here with
// Debian's /usr/bin/python3 + torch + torchvision) builds torchvision resnet18 and a
// torchvision VisionTransformer with ViT-Tiny dimensions, randomises every weight and BatchNorm
// statistic (seeded), saves them as safetensors and .pth, and saves the logits for a fixed
// input. We import the files into our own model definitions and must reproduce the logits.
//
// Tolerance: max |ours - torch| / max |torch| <= 1e-4 over all logits. Both sides run float32
// through the same kinds of kernels (oneDNN convolutions, BLAS matmuls) but not the same call
// sequence (e.g. PyTorch's fused multi-head attention vs our matmul + softmax), so results differ
// by summation order: ~1e-7 relative per op, accumulated over 12 blocks or 20 conv layers. Any
// mapping error (a transposed or misnamed tensor, a wrong eps, tanh GELU) gives O(1) errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <random>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <caffe2/serialize/inline_container.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "import/import.h"
#include "import/name_map.h"
#include "import/pth.h"
#include "import/safetensors.h"
#include "models/checkpoint.h"
#include "models/vit.h"

using namespace tinyvit;
using namespace tinyvit::import;
namespace fs = std::filesystem;

namespace {

const char* kScript = TINYVIT_SOURCE_DIR "/tests/import/make_reference.py";

// Golden files, generated once per version of make_reference.py into a temp dir (tests run as
// separate processes under ctest; generation takes ~10 s). Written to a private directory and
// renamed into place, so concurrent tests never see half a set.
const fs::path& ref_dir() {
  static const fs::path dir = [] {
    const std::string script = read_file_bytes(kScript);
    const fs::path d = fs::temp_directory_path() /
                       ("tinyvit_import_ref_" + std::to_string(std::hash<std::string>{}(script)));
    if (fs::exists(d / "golden.safetensors")) return d;
    // One generator at a time (ctest -j starts several test processes at once); the lock is
    // released when this process exits.
    const int lock = ::open((fs::temp_directory_path() / "tinyvit_import_ref.lock").c_str(),
                            O_CREAT | O_RDWR, 0666);
    if (lock >= 0) ::flock(lock, LOCK_EX);
    if (fs::exists(d / "golden.safetensors")) {
      if (lock >= 0) ::close(lock);
      return d;
    }
    // ~190 MB per set: drop sets made by older versions of the script (untouched for an hour,
    // so that a concurrent run of another checkout keeps its set).
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("tinyvit_import_ref_", 0) != 0 || e.path() == d) continue;
      const auto t = fs::last_write_time(e.path(), ec);
      if (!ec && now - t > std::chrono::hours(1)) fs::remove_all(e.path(), ec);
    }
    const fs::path tmp = d.string() + ".tmp." + std::to_string(::getpid());
    const std::string cmd = "/usr/bin/python3 " + std::string(kScript) + " " + tmp.string();
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "reference generation failed: " << cmd
                    << " (needs Debian's python3-torch and python3-torchvision)";
      return d;
    }
    fs::rename(tmp, d, ec);
    if (ec) fs::remove_all(tmp);  // another process won the race; its copy is identical
    if (lock >= 0) ::close(lock);
    return d;
  }();
  return dir;
}

std::string ref(const std::string& name) { return (ref_dir() / name).string(); }

torch::Tensor golden(const std::string& name) {
  const StateDict g = read_weights(ref("golden.safetensors"));
  for (const auto& [n, t] : g)
    if (n == name) return t;
  throw std::runtime_error("no golden tensor " + name);
}

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

ImportResult import_file(const std::string& file, const std::string& arch, int classes,
                         int img = 0, uint64_t seed = 0) {
  ImportOptions o;
  o.arch = arch;
  o.num_classes = classes;
  o.img_size = img;
  o.seed = seed;
  return import_state_dict(read_weights(file), o);
}

void expect_logits_match(const std::string& file, const std::string& arch,
                         const std::string& golden_name) {
  auto r = import_file(ref(file), arch, 1000);
  EXPECT_TRUE(r.report.missing.empty()) << r.report.format();
  EXPECT_TRUE(r.report.mismatched.empty()) << r.report.format();
  EXPECT_TRUE(r.report.unexpected.empty()) << r.report.format();
  EXPECT_TRUE(r.report.replaced.empty()) << r.report.format();
  EXPECT_TRUE(r.report.adapted.empty()) << r.report.format();
  torch::NoGradGuard g;
  const auto out = r.model->forward(golden("input"));
  const auto want = golden(golden_name);
  ASSERT_EQ(out.sizes(), want.sizes());
  const double e = rel_err(out, want);
  std::cout << "[ measured ] " << file << " -> " << arch
            << ": max |logit diff| / max |logit| = " << e << "\n";
  ::testing::Test::RecordProperty("max_rel_logit_error", std::to_string(e));
  EXPECT_LE(e, 1e-4);
  EXPECT_EQ(out.argmax(1).equal(want.argmax(1)), true);
}

}  // namespace

// ---- golden logits from PyTorch -------------------------------------------------------------

TEST(ImportGolden, TorchvisionResNet18Safetensors) {
  expect_logits_match("resnet18.safetensors", "resnet18", "resnet18");
}
TEST(ImportGolden, TorchvisionResNet18PthWithModulePrefix) {
  expect_logits_match("resnet18.pth", "resnet18", "resnet18");
}
TEST(ImportGolden, TorchvisionResNet18PlainOrderedDictPth) {
  // torch.save(model.state_dict()): what torchvision's downloads are; torch::pickle_load
  // cannot read it (returns None), our reader can.
  expect_logits_match("resnet18_ordereddict.pth", "resnet18", "resnet18");
}
TEST(ImportGolden, TorchvisionVitTinySafetensors) {
  expect_logits_match("vit.safetensors", "vit_tiny_patch16_224", "vit");
}
TEST(ImportGolden, TorchvisionVitTinyWrappedPth) {
  expect_logits_match("vit.pth", "vit_tiny_patch16_224", "vit");  // {"model": state_dict}
}

TEST(ImportGolden, ToleranceDetectsASmallDeviation) {
  // Negative control: the comparison is sensitive. Scaling the final LayerNorm's weight by
  // 1 + 1e-3 scales the logits' non-bias part by the same factor: far above the 1e-4 bound.
  auto r = import_file(ref("vit.safetensors"), "vit_tiny_patch16_224", 1000);
  auto* v = dynamic_cast<models::VisionTransformer*>(r.model.get());
  ASSERT_TRUE(v);
  torch::NoGradGuard g;
  v->norm->weight.mul_(1.0 + 1e-3);
  EXPECT_GT(rel_err(r.model->forward(golden("input")), golden("vit")), 2e-4);
}

TEST(ImportPth, LegacyFormatGivesReSaveInstruction) {
  try {
    read_weights(ref("small_legacy.pth"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("torch.save(dict("), std::string::npos) << e.what();
  }
}

TEST(ImportPth, ViewsDtypesParametersAndOrderedDictMetadata) {
  const StateDict sd = read_pth(ref("small.pth"));
  const StateDict want = read_weights(ref("small_expected.safetensors"));
  ASSERT_EQ(sd.size(), want.size());
  std::map<std::string, torch::Tensor> got(sd.begin(), sd.end());
  for (const auto& [n, w] : want) {
    ASSERT_TRUE(got.count(n)) << n;
    const auto& t = got[n];
    EXPECT_EQ(t.sizes(), w.sizes()) << n;
    EXPECT_TRUE(torch::equal(t.is_floating_point() ? t.to(torch::kFloat) : t, w)) << n;
  }
  EXPECT_EQ(got["h"].scalar_type(), torch::kHalf);
  EXPECT_EQ(got["b"].scalar_type(), torch::kBFloat16);
  EXPECT_EQ(got["n"].dim(), 0);
  EXPECT_EQ(got["n"].item<int64_t>(), 7);
}

TEST(ImportPth, UnpicklerSurvivesTruncationAndByteFlips) {
  // Straight at the unpickler (the zip layer CRC-checks records, so flipping bytes in the file
  // would only test miniz): every truncation of data.pkl and random byte flips must give a
  // state dict or a tinyvit::Error, never a crash, hang or huge allocation.
  caffe2::serialize::PyTorchStreamReader zip(ref("small.pth"));
  std::map<std::string, std::string> recs;
  for (const auto& name : zip.getAllRecords()) {
    auto [ptr, size] = zip.getRecord(name);
    recs[name] = std::string(static_cast<const char*>(ptr.get()), size);
  }
  const RecordReader records = [&](const std::string& n) {
    auto it = recs.find(n);
    if (it == recs.end()) throw Error("no record " + n);
    return it->second;
  };
  const std::string pkl = recs.at("data.pkl");
  EXPECT_EQ(parse_state_dict_pickle(pkl, records, "ok").size(), 9u);
  for (std::size_t cut = 0; cut < pkl.size(); ++cut)
    EXPECT_THROW(parse_state_dict_pickle(pkl.substr(0, cut), records, "cut"), Error) << cut;
  std::mt19937 rng(5);
  int parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string b = pkl;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k)
      b[rng() % b.size()] = static_cast<char>(rng());
    try {
      parse_state_dict_pickle(b, records, "fuzz");
      ++parsed;
    } catch (const Error&) {
    }
  }
  std::cout << "[ measured ] " << parsed << " of 4000 mutated data.pkl still parsed\n";
}

TEST(ImportPth, TruncatedAndCorruptFilesGiveErrors) {
  const std::string bytes = read_file_bytes(ref("vit.pth"));
  const auto dir = fs::temp_directory_path() / ("tinyvit_pth_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto bad = (dir / "bad.pth").string();
  for (std::size_t cut : {std::size_t(0), std::size_t(4), std::size_t(100), bytes.size() / 2,
                          bytes.size() - 30}) {
    write_bytes_atomic(bad, bytes.data(), cut);
    EXPECT_THROW(read_weights(bad), Error) << "cut at " << cut;
  }
  // Flip bytes inside data.pkl (stored uncompressed right after the first local header): either
  // a clear error, or (if the flip hits a string) a state dict that import then rejects/reports.
  const auto pos = bytes.find("data.pkl");
  ASSERT_NE(pos, std::string::npos);
  for (std::size_t k = 0; k < 200; k += 7) {
    std::string b = bytes;
    b[pos + 60 + k] = static_cast<char>(b[pos + 60 + k] ^ 0x5a);
    write_bytes_atomic(bad, b.data(), b.size());
    try {
      read_weights(bad);
    } catch (const Error&) {
    }
  }
  fs::remove_all(dir);
}

TEST(ImportSafetensors, Fp16Bf16F64MatchPyTorchConversion) {
  const auto f = SafetensorsFile::open(ref("dtypes.safetensors"));
  for (const char* n : {"f16", "bf16", "f64"}) {
    const auto got = f.to_float32(*f.find(n));
    const auto want = f.to_float32(*f.find(std::string(n) + "_as_f32"));
    EXPECT_EQ(got, want) << n;  // exact: conversion to float32 is exact (or round-to-nearest)
  }
  EXPECT_EQ(f.to_int64(*f.find("i32")), (std::vector<int64_t>{-5, -4, -3, -2, -1, 0, 1, 2, 3, 4}));
}

// ---- names ----------------------------------------------------------------------------------

TEST(ImportNames, PrefixesAndTorchvisionVitNames) {
  EXPECT_EQ(strip_prefixes("module.model.fc.weight"), "fc.weight");
  EXPECT_EQ(strip_prefixes("model.module.conv1.weight"), "conv1.weight");
  EXPECT_EQ(strip_prefixes("layer1.0.conv1.weight"), "layer1.0.conv1.weight");
  const std::vector<std::pair<std::string, std::string>> m = {
      {"conv_proj.weight", "patch_embed.proj.weight"},
      {"class_token", "cls_token"},
      {"encoder.pos_embedding", "pos_embed"},
      {"encoder.layers.encoder_layer_11.ln_1.bias", "blocks.11.norm1.bias"},
      {"encoder.layers.encoder_layer_0.self_attention.in_proj_weight", "blocks.0.attn.qkv.weight"},
      {"encoder.layers.encoder_layer_0.self_attention.in_proj_bias", "blocks.0.attn.qkv.bias"},
      {"encoder.layers.encoder_layer_3.self_attention.out_proj.weight", "blocks.3.attn.proj.weight"},
      {"encoder.layers.encoder_layer_2.ln_2.weight", "blocks.2.norm2.weight"},
      {"encoder.layers.encoder_layer_2.mlp.0.weight", "blocks.2.mlp.fc1.weight"},
      {"encoder.layers.encoder_layer_2.mlp.3.bias", "blocks.2.mlp.fc2.bias"},
      {"encoder.layers.encoder_layer_2.mlp.linear_1.weight", "blocks.2.mlp.fc1.weight"},
      {"encoder.layers.encoder_layer_2.mlp.linear_2.weight", "blocks.2.mlp.fc2.weight"},
      {"encoder.ln.weight", "norm.weight"},
      {"heads.head.bias", "head.bias"},
      {"blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.weight"},  // timm names stay
  };
  for (const auto& [from, to] : m) EXPECT_EQ(torchvision_vit_to_timm(from), to) << from;
}

// ---- report: missing / unexpected / mismatched ----------------------------------------------

TEST(ImportReport, MissingIsAnErrorUnlessAllowedUnexpectedIsReported) {
  StateDict sd = read_weights(ref("resnet18.safetensors"));
  sd.erase(std::remove_if(sd.begin(), sd.end(),
                          [](const auto& kv) { return kv.first == "layer1.0.conv1.weight"; }),
           sd.end());
  sd.emplace_back("extra.thing", torch::zeros({3}));
  ImportOptions o;
  o.arch = "resnet18";
  o.num_classes = 1000;
  try {
    import_state_dict(sd, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer1.0.conv1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--allow-missing"), std::string::npos) << msg;
  }
  o.allow_missing = true;
  auto r = import_state_dict(sd, o);
  EXPECT_EQ(r.report.missing, std::vector<std::string>{"layer1.0.conv1.weight"});
  EXPECT_EQ(r.report.unexpected, std::vector<std::string>{"extra.thing (3)"});
}

TEST(ImportReport, WrongArchitectureIsMismatched) {
  ImportOptions o;
  o.arch = "vit_micro_patch4_32";  // dim 128, 6 blocks: the ViT-Tiny file does not fit
  o.num_classes = 1000;
  try {
    import_state_dict(read_weights(ref("vit.safetensors")), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mismatched"), std::string::npos) << e.what();
  }
}

// ---- head replacement -----------------------------------------------------------------------

TEST(ImportHead, NewSeededHeadWhenClassCountDiffers) {
  const StateDict sd = read_weights(ref("vit.safetensors"));
  ImportOptions o{"vit_tiny_patch16_224", 10, 0, false, 5};
  auto a = import_state_dict(sd, o);
  EXPECT_EQ(a.report.replaced.size(), 2u) << a.report.format();  // head.weight, head.bias
  EXPECT_TRUE(a.report.missing.empty());
  auto b = import_state_dict(sd, o);
  o.seed = 6;
  auto c = import_state_dict(sd, o);
  auto* va = dynamic_cast<models::VisionTransformer*>(a.model.get());
  auto* vb = dynamic_cast<models::VisionTransformer*>(b.model.get());
  auto* vc = dynamic_cast<models::VisionTransformer*>(c.model.get());
  ASSERT_TRUE(va && vb && vc);
  EXPECT_EQ(va->head->weight.sizes(), (std::vector<int64_t>{10, 192}));
  EXPECT_TRUE(torch::equal(va->head->weight, vb->head->weight));   // seeded
  EXPECT_FALSE(torch::equal(va->head->weight, vc->head->weight));  // by the seed
  // Everything but the head was loaded: same features as the 1000-class import.
  auto full = import_state_dict(sd, {"vit_tiny_patch16_224", 1000, 0, false, 0});
  auto* vf = dynamic_cast<models::VisionTransformer*>(full.model.get());
  torch::NoGradGuard g;
  const auto x = golden("input").narrow(0, 0, 1);
  EXPECT_TRUE(torch::equal(va->forward_features(x), vf->forward_features(x)));
  EXPECT_EQ(va->forward(x).sizes(), (std::vector<int64_t>{1, 10}));

  // ResNet: fc replaced, BN statistics loaded.
  auto r = import_file(ref("resnet18.safetensors"), "resnet18", 10);
  EXPECT_EQ(r.report.replaced.size(), 2u) << r.report.format();
  EXPECT_TRUE(r.report.mismatched.empty());
}

// ---- pos-embed resampling and patch-kernel resize -------------------------------------------

TEST(ImportResample, PosEmbedGridShapesConstantsAndClassRow) {
  torch::manual_seed(0);
  const int64_t D = 192;
  // 224/16 (14x14 grid + cls) -> 32/4 (8x8 grid + cls)
  auto pos = torch::randn({1, 1 + 14 * 14, D});
  auto out = resample_pos_embed(pos, 1, 1, 8, 8);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 1 + 64, D}));
  EXPECT_TRUE(torch::equal(out.select(1, 0), pos.select(1, 0)));  // class-token row unchanged
  // A pos embed constant over the grid (per channel) stays constant, shrinking and growing.
  auto per_channel = torch::randn({1, 1, D});
  auto constant = torch::cat({torch::randn({1, 1, D}), per_channel.expand({1, 196, D})}, 1);
  for (int g : {8, 14, 24}) {
    auto c = resample_pos_embed(constant, 1, 1, g, g);
    EXPECT_LT((c.narrow(1, 1, g * g) - per_channel).abs().max().item<float>(), 1e-5) << g;
    EXPECT_TRUE(torch::equal(c.select(1, 0), constant.select(1, 0)));
  }
  // Same grid: unchanged. A distillation-token row is dropped when the model has none.
  EXPECT_TRUE(torch::equal(resample_pos_embed(pos, 1, 1, 14, 14), pos));
  auto two = torch::randn({1, 2 + 196, D});
  EXPECT_TRUE(torch::equal(resample_pos_embed(two, 2, 1, 14, 14),
                           torch::cat({two.narrow(1, 0, 1), two.narrow(1, 2, 196)}, 1)));
  EXPECT_THROW(resample_pos_embed(torch::randn({1, 1 + 195, D}), 1, 1, 8, 8), Error);
}

TEST(ImportResample, PatchKernelResizePreservesProjectionWhenGrowing) {
  // Growing p=4 -> q=8 the pseudo-inverse is exact: <resize(x), w'> == <x, w> for any patch x.
  namespace F = torch::nn::functional;
  torch::manual_seed(1);
  auto w = torch::randn({6, 3, 4, 4});
  auto w2 = resize_patch_kernel(w, 8);
  EXPECT_EQ(w2.sizes(), (std::vector<int64_t>{6, 3, 8, 8}));
  auto x = torch::randn({5, 3, 4, 4});
  auto x2 = F::interpolate(x, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{8, 8})
                                  .mode(torch::kBicubic)
                                  .align_corners(false));
  auto y = torch::einsum("nchw,dchw->nd", {x, w});
  auto y2 = torch::einsum("nchw,dchw->nd", {x2, w2});
  EXPECT_LT(rel_err(y2, y), 1e-4);
}

TEST(ImportResample, Vit224CheckpointInto32PixelArchAndLargerImage) {
  const StateDict sd = read_weights(ref("vit.safetensors"));
  // 224/16 -> vit_tiny_patch4_32 (32/4): pos grid 14 -> 8, patch kernel 16 -> 4.
  auto r = import_state_dict(sd, {"vit_tiny_patch4_32", 10, 0, false, 0});
  EXPECT_EQ(r.report.adapted.size(), 2u) << r.report.format();
  EXPECT_TRUE(r.report.missing.empty() && r.report.mismatched.empty()) << r.report.format();
  auto* v = dynamic_cast<models::VisionTransformer*>(r.model.get());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->pos_embed.sizes(), (std::vector<int64_t>{1, 65, 192}));
  torch::Tensor src_pos;
  for (const auto& [n, t] : sd)
    if (n == "encoder.pos_embedding") src_pos = t;
  EXPECT_TRUE(torch::equal(v->pos_embed.select(1, 0), src_pos.select(1, 0)));
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::isfinite(r.model->forward(torch::randn({1, 3, 32, 32}))).all().item<bool>());

  // --img-size 384 on the 224 arch: grid 14 -> 24, kernel kept.
  auto big = import_state_dict(sd, {"vit_tiny_patch16_224", 1000, 384, false, 0});
  EXPECT_EQ(big.report.adapted.size(), 1u) << big.report.format();
  EXPECT_EQ(big.model->config().img_size(), 384);
}

// ---- export-weights round trip (and back to PyTorch) -----------------------------------------

TEST(ImportExport, ExportWeightsRoundTripAndLoadsInTorchvision) {
  auto r = import_file(ref("resnet18.safetensors"), "resnet18", 1000);
  const auto dir = fs::temp_directory_path() / ("tinyvit_exp_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto out = (dir / "resnet18.safetensors").string();
  export_safetensors(out, *r.model, {{"class_names", {"a"}}});

  const auto f = SafetensorsFile::open(out);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_NE(f.metadata().at("tinyvit_config").find("resnet18"), std::string::npos);
  ASSERT_NE(f.find("layer2.0.downsample.1.running_var"), nullptr);
  const auto* nbt = f.find("bn1.num_batches_tracked");
  ASSERT_NE(nbt, nullptr);
  EXPECT_EQ(nbt->dtype, DType::I64);
  EXPECT_EQ(f.to_int64(*nbt), std::vector<int64_t>{1234});

  // Re-import: bit-identical model.
  auto r2 = import_file(out, "resnet18", 1000);
  torch::NoGradGuard g;
  const auto x = golden("input");
  EXPECT_TRUE(torch::equal(r.model->forward(x), r2.model->forward(x)));

  // PyTorch reads it back into torchvision resnet18 (strict) and reproduces the golden logits.
  const std::string cmd = "/usr/bin/python3 " + std::string(kScript) + " --check-resnet18 " + out +
                          " " + ref("golden.safetensors");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  // ViT export keeps timm names.
  auto v = import_file(ref("vit.safetensors"), "vit_tiny_patch16_224", 1000);
  const auto vout = (dir / "vit.safetensors").string();
  export_safetensors(vout, *v.model, {});
  const auto vf = SafetensorsFile::open(vout);
  EXPECT_NE(vf.find("blocks.11.attn.qkv.weight"), nullptr);
  EXPECT_NE(vf.find("cls_token"), nullptr);
  auto v2 = import_file(vout, "vit_tiny_patch16_224", 1000);
  EXPECT_TRUE(torch::equal(v.model->forward(x), v2.model->forward(x)));
  fs::remove_all(dir);
}

TEST(ImportExport, ImportMetaAndCheckpoint) {
  auto r = import_file(ref("resnet18.safetensors"), "resnet18", 10);
  const auto meta = import_meta(r.model->config(), "x.safetensors", {}, r.report);
  EXPECT_EQ(meta["class_names"].size(), 10u);
  EXPECT_EQ(meta["input_size"], 224);
  EXPECT_NEAR(meta["mean"][0].get<double>(), 0.485, 1e-9);
  EXPECT_THROW(import_meta(r.model->config(), "x", {"a", "b"}, r.report), Error);
  const auto path = (fs::temp_directory_path() / ("tinyvit_imp_" + std::to_string(::getpid()) + ".pt")).string();
  models::save_checkpoint(path, *r.model, meta);
  auto back = models::load_checkpoint(path);
  torch::NoGradGuard g;
  const auto x = golden("input").narrow(0, 0, 1);
  EXPECT_TRUE(torch::equal(back.model->forward(x), r.model->forward(x)));
  fs::remove(path);
}
