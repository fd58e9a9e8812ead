#pragma once
// What `tinyvit predict` and `tinyvit visualize` run: a model behind one small interface.
//
//   checkpoint (.pt, zip archive)  -> LibTorch forward on normalized NCHW input
//   .tflite ("TFL3")               -> tinyvit's own runtime (default; float32 or int8 I/O) or
//                                     LiteRT.js under Node (float32 I/O), NHWC input as its
//                                     "tinyvit" metadata says (docs/tflite_export.md)
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace tinyvit::report {

class InferenceModel {
 public:
  virtual ~InferenceModel() = default;
  virtual std::string kind() const = 0;  // "checkpoint" | "tflite (LiteRT.js)"
  int input_size() const { return input_size_; }
  int num_classes() const { return static_cast<int>(class_names_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<float>& mean() const { return mean_; }  // empty = unknown
  const std::vector<float>& std() const { return std_; }

  // pixels: (N, 3, S, S) float32 in [0, 1] (byte / 255) -> logits (N, K) float32.
  virtual torch::Tensor logits_from_pixels(const torch::Tensor& pixels) = 0;
  // x: (N, 3, S, S) float32, normalized ((pixels - mean) / std): exactly what a checkpoint
  // model's forward receives -> logits (N, K).
  virtual torch::Tensor logits_from_normalized(const torch::Tensor& x) = 0;

  // Replaces the class names (e.g. a .tflite file that carries none); size must match.
  void set_class_names(std::vector<std::string> names);

 protected:
  int input_size_ = 0;
  std::vector<std::string> class_names_;
  std::vector<float> mean_, std_;
};

enum class ModelFileType { kCheckpoint, kTflite };
enum class TfliteBackend { kRuntime, kLiteRT };
// "runtime" | "litert"; throws tinyvit::Error otherwise.
TfliteBackend parse_tflite_backend(const std::string& name);
// Detected from the first bytes (zip "PK\3\4" = checkpoint, "TFL3" at offset 4 = .tflite).
// Throws tinyvit::Error for a missing file or any other content.
ModelFileType detect_model_file(const std::string& path);

std::unique_ptr<InferenceModel> open_model(const std::string& path,
                                           TfliteBackend backend = TfliteBackend::kRuntime);

// Reads a JPEG/PNG file and resizes it to size x size (as the data loader does when decoding
// image folders) -> (3, S, S) float32 in [0, 1]. Throws tinyvit::Error naming the file.
torch::Tensor load_image_pixels(const std::string& path, int size);

// One preprocessed input: float32 little-endian NCHW (1, 3, S, S). Throws tinyvit::Error stating
// the expected byte count when the file has another size.
torch::Tensor read_raw_input(const std::string& path, int size);
// Writes a float32 tensor as raw little-endian bytes (row-major), atomically.
void write_raw_floats(const std::string& path, const torch::Tensor& t);

struct TopK {
  std::vector<int64_t> classes;
  std::vector<float> probs;  // softmax probabilities, descending
};
// Top-k of each row of logits (N, K); k is clamped to K.
std::vector<TopK> top_k(const torch::Tensor& logits, int k);

}  // namespace tinyvit::report
