#include "report/inference.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/image_decode.h"
#include "export/litert_runner.h"
#include "export/runtime_runner.h"
#include "export/tflite_reader.h"
#include "export/verify.h"
#include "models/checkpoint.h"

namespace tinyvit::report {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw float32 files are little-endian; add byte swapping for big-endian hosts"
#endif

namespace {

std::vector<std::string> default_names(int k) {
  std::vector<std::string> names;
  for (int i = 0; i < k; ++i) names.push_back("class_" + std::to_string(i));
  return names;
}

void check_nchw(const torch::Tensor& t, int size, const char* what) {
  if (t.dim() != 4 || t.size(1) != 3 || t.size(2) != size || t.size(3) != size)
    throw Error(std::string(what) + ": expected (N, 3, " + std::to_string(size) + ", " +
                std::to_string(size) + "), got " + c10::str(t.sizes()));
}

class CheckpointModel : public InferenceModel {
 public:
  explicit CheckpointModel(const std::string& path) {
    auto m = models::load_checkpoint(path);
    model_ = m.model;
    model_->eval();
    input_size_ = model_->config().img_size();
    const int k = model_->config().num_classes();
    if (m.meta.contains("class_names") &&
        static_cast<int>(m.meta["class_names"].size()) == k)
      class_names_ = m.meta["class_names"].get<std::vector<std::string>>();
    else
      class_names_ = default_names(k);
    if (m.meta.contains("mean") && m.meta.contains("std")) {
      mean_ = m.meta["mean"].get<std::vector<float>>();
      std_ = m.meta["std"].get<std::vector<float>>();
    }
  }
  std::string kind() const override { return "checkpoint (LibTorch)"; }

  torch::Tensor logits_from_pixels(const torch::Tensor& pixels) override {
    check_nchw(pixels, input_size_, "pixels");
    torch::Tensor x = pixels.to(torch::kFloat32);
    if (!mean_.empty())
      x = (x - torch::tensor(mean_).view({1, 3, 1, 1})) / torch::tensor(std_).view({1, 3, 1, 1});
    return logits_from_normalized(x);
  }
  torch::Tensor logits_from_normalized(const torch::Tensor& x) override {
    check_nchw(x, input_size_, "input");
    torch::NoGradGuard no_grad;
    return model_->forward(x.to(torch::kFloat32).contiguous()).to(torch::kFloat32);
  }

 private:
  models::ClassifierPtr model_;
};

// .tflite run by tinyvit's runtime or by LiteRT.js: the only place that knows the backend.
class TfliteModel : public InferenceModel {
 public:
  TfliteModel(const std::string& path, TfliteBackend backend) : path_(path), backend_(backend) {
    const auto model = exporter::read_tflite_file(path);
    const auto& sg = *model->subgraphs.at(0);
    if (sg.inputs.size() != 1 || sg.outputs.size() != 1)
      throw Error(path + ": predict needs a model with one input and one output, this one has " +
                  std::to_string(sg.inputs.size()) + " and " + std::to_string(sg.outputs.size()));
    const auto& in = *sg.tensors.at(sg.inputs[0]);
    const auto& out = *sg.tensors.at(sg.outputs[0]);
    if (in.shape.size() != 4 || in.shape[3] != 3 || in.shape[1] != in.shape[2])
      throw Error(path + ": expected an NHWC (1, S, S, 3) image input");
    const auto io_ok = [&](tflite::TensorType t) {
      return t == tflite::TensorType::FLOAT32 ||
             (backend_ == TfliteBackend::kRuntime && t == tflite::TensorType::INT8);
    };
    if (!io_ok(in.type) || !io_ok(out.type))
      throw Error(path + (backend_ == TfliteBackend::kRuntime
                              ? ": the runtime takes float32 or int8 input/output files"
                              : ": LiteRT.js is used here for float32 input/output files only "
                                "(use --backend runtime for int8)"));
    input_size_ = in.shape[1];
    const int k = out.shape.empty() ? 0 : out.shape.back();
    if (k <= 0) throw Error(path + ": the output has no class dimension");
    const auto meta = exporter::read_tinyvit_metadata(path);
    pixels_in_graph_ = meta.value("input", std::string("pixels_0_1")) == "pixels_0_1";
    if (meta.contains("mean") && meta.contains("std")) {
      mean_ = meta["mean"].get<std::vector<float>>();
      std_ = meta["std"].get<std::vector<float>>();
    }
    if (meta.contains("class_names") && static_cast<int>(meta["class_names"].size()) == k)
      class_names_ = meta["class_names"].get<std::vector<std::string>>();
    else
      class_names_ = default_names(k);
  }
  std::string kind() const override {
    return backend_ == TfliteBackend::kRuntime ? "tflite (tinyvit runtime)" : "tflite (LiteRT.js)";
  }

  torch::Tensor logits_from_pixels(const torch::Tensor& pixels) override {
    check_nchw(pixels, input_size_, "pixels");
    if (pixels_in_graph_) return run(pixels);
    if (mean_.empty())
      throw Error(path_ + " takes normalized input and states no mean/std; pass an already "
                  "preprocessed input with --raw-input");
    return run((pixels - torch::tensor(mean_).view({1, 3, 1, 1})) /
               torch::tensor(std_).view({1, 3, 1, 1}));
  }
  torch::Tensor logits_from_normalized(const torch::Tensor& x) override {
    check_nchw(x, input_size_, "input");
    if (!pixels_in_graph_) return run(x);
    if (mean_.empty()) return run(x);  // graph without normalization: input is used as is
    return run(x * torch::tensor(std_).view({1, 3, 1, 1}) + torch::tensor(mean_).view({1, 3, 1, 1}));
  }

 private:
  torch::Tensor run(const torch::Tensor& nchw) {
    const auto nhwc = nchw.to(torch::kFloat32).permute({0, 2, 3, 1}).contiguous();
    std::vector<float> flat(nhwc.data_ptr<float>(), nhwc.data_ptr<float>() + nhwc.numel());
    const std::vector<float> out = backend_ == TfliteBackend::kRuntime
                                       ? exporter::run_runtime(path_, flat)
                                       : exporter::run_litert_f32(path_, flat);
    const int64_t n = nchw.size(0), k = num_classes();
    if (static_cast<int64_t>(out.size()) != n * k)
      throw Error(path_ + ": the backend returned " + std::to_string(out.size()) + " values for " +
                  std::to_string(n) + " images of " + std::to_string(k) + " classes");
    return torch::from_blob(const_cast<float*>(out.data()), {n, k}, torch::kFloat32).clone();
  }

  std::string path_;
  TfliteBackend backend_;
  bool pixels_in_graph_ = true;
};

}  // namespace

void InferenceModel::set_class_names(std::vector<std::string> names) {
  if (static_cast<int>(names.size()) != num_classes())
    throw Error("the model has " + std::to_string(num_classes()) + " classes but " +
                std::to_string(names.size()) + " class names were given");
  class_names_ = std::move(names);
}

ModelFileType detect_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open the model file (does it exist?)");
  char head[8] = {};
  f.read(head, sizeof head);
  const auto got = f.gcount();
  if (got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return ModelFileType::kCheckpoint;
  if (got >= 8 && std::memcmp(head + 4, "TFL3", 4) == 0) return ModelFileType::kTflite;
  throw Error(path + ": unknown model file type; expected a tinyvit checkpoint (zip archive "
              "written by train/distill/import) or a .tflite file (from `tinyvit export`)");
}

TfliteBackend parse_tflite_backend(const std::string& name) {
  if (name == "runtime") return TfliteBackend::kRuntime;
  if (name == "litert") return TfliteBackend::kLiteRT;
  throw Error("unknown .tflite backend '" + name + "' (use runtime or litert)");
}

std::unique_ptr<InferenceModel> open_model(const std::string& path, TfliteBackend backend) {
  switch (detect_model_file(path)) {
    case ModelFileType::kCheckpoint: return std::make_unique<CheckpointModel>(path);
    case ModelFileType::kTflite: return std::make_unique<TfliteModel>(path, backend);
  }
  throw Error(path + ": unknown model file type");
}

torch::Tensor load_image_pixels(const std::string& path, int size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open the image (does it exist?)");
  const std::string bytes = read_file_bytes(path);
  std::vector<uint8_t> hwc(static_cast<size_t>(size) * size * 3);
  std::string reason;
  if (!data::decode_image_to(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), size,
                             hwc.data(), &reason))
    throw Error(path + ": not a readable JPEG/PNG image (" + reason + ")");
  return torch::from_blob(hwc.data(), {size, size, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .to(torch::kFloat32)
      .div(255.f)
      .contiguous();
}

torch::Tensor read_raw_input(const std::string& path, int size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open the raw input (does it exist?)");
  const std::string bytes = read_file_bytes(path);
  const size_t expected = size_t(3) * size * size * sizeof(float);
  if (bytes.size() != expected)
    throw Error(path + " is " + std::to_string(bytes.size()) + " bytes, but the model takes one "
                "float32 little-endian NCHW input of shape (1, 3, " + std::to_string(size) + ", " +
                std::to_string(size) + ") = " + std::to_string(expected) + " bytes");
  auto t = torch::empty({1, 3, size, size}, torch::kFloat32);
  std::memcpy(t.data_ptr<float>(), bytes.data(), expected);
  return t;
}

void write_raw_floats(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU).to(torch::kFloat32).contiguous();
  write_bytes_atomic(path, c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
}

std::vector<TopK> top_k(const torch::Tensor& logits, int k) {
  TORCH_CHECK(logits.dim() == 2, "top_k: logits must be (N, K)");
  const int64_t K = logits.size(1);
  const int64_t kk = std::max<int64_t>(1, std::min<int64_t>(k, K));
  const auto probs = torch::softmax(logits.to(torch::kFloat64), 1);
  const auto [vals, idx] = probs.topk(kk, 1);
  std::vector<TopK> out(static_cast<size_t>(logits.size(0)));
  for (int64_t i = 0; i < logits.size(0); ++i)
    for (int64_t j = 0; j < kk; ++j) {
      out[i].classes.push_back(idx[i][j].item<int64_t>());
      out[i].probs.push_back(static_cast<float>(vals[i][j].item<double>()));
    }
  return out;
}

}  // namespace tinyvit::report
