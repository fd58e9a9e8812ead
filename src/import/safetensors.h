#pragma once
// safetensors (https://github.com/huggingface/safetensors), torch-free so that the reader can be
// built and tested under AddressSanitizer/UBSan on its own.
//
// File layout:
//   u64 (little-endian)  N = header length in bytes
//   N bytes              JSON object: { "<name>": {"dtype": "F32", "shape": [d0, d1, ...],
//                                                  "data_offsets": [begin, end]}, ...,
//                                       "__metadata__": {"<key>": "<string>", ...} (optional) }
//   rest                 raw little-endian tensor data; [begin, end) is relative to its start
//
// The reader checks everything before it touches tensor bytes: header length within the file,
// a JSON object, known dtypes, non-negative dims, end - begin == numel * element size, ranges
// inside the data and not overlapping. Any violation -> tinyvit::Error naming the file and the
// tensor; never an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tinyvit::import {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType t);       // "F32", ...
std::size_t dtype_size(DType t);       // bytes per element

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::size_t begin = 0, end = 0;      // byte range inside the data section
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Parses `bytes` (the whole file); `what` names it in error messages.
  SafetensorsFile(std::string bytes, std::string what);
  static SafetensorsFile open(const std::string& path);

  const std::vector<TensorEntry>& tensors() const { return tensors_; }  // in file (offset) order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorEntry* find(const std::string& name) const;

  // Element values converted: F64/F32/F16/BF16 -> float32; I64/I32/I16/I8/U8/BOOL -> int64.
  // Asking for the other kind (floats of an integer tensor, or vice versa) throws.
  std::vector<float> to_float32(const TensorEntry& t) const;
  std::vector<int64_t> to_int64(const TensorEntry& t) const;
  static bool is_floating(DType t);

 private:
  const unsigned char* data_of(const TensorEntry& t) const;
  std::vector<char> bytes_;  // exactly the file: no slack, so ASan sees any over-read
  std::string what_;
  std::size_t data_start_ = 0;
  std::vector<TensorEntry> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: F32 (`f32` used) or I64 (`i64` used), row-major.
struct OutTensor {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  std::vector<float> f32;
  std::vector<int64_t> i64;
};

// Serialises tensors (in the given order) with optional __metadata__; the header is padded with
// spaces to a multiple of 8 bytes, so every tensor is 8-byte aligned (as the Python writer does).
std::string encode_safetensors(const std::vector<OutTensor>& tensors,
                               const std::map<std::string, std::string>& metadata);
// encode_safetensors + write_bytes_atomic.
void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

// IEEE half / bfloat16 -> float (exact; handles subnormals, inf, NaN).
float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);

}  // namespace tinyvit::import
