#pragma once
// tinyvit runtime: a small TensorFlow Lite interpreter for the .tflite files tinyvit-edge
// exports (float32 and int8). No dependencies beyond the flatbuffers headers, no exceptions,
// no RTTI. Memory:
//   load()      verifies the file and builds the op table; the only heap use (a few KB of
//               metadata: tensor table, op table, per-channel multipliers, the plan);
//   allocate()  takes ONE caller-supplied arena (16-byte aligned) of at least
//               arena_bytes_needed() bytes, in which every activation tensor lives at an
//               offset chosen by a lifetime planner (tensors whose lifetimes do not overlap
//               share bytes); constants are read in place from the model buffer;
//   invoke()    runs the ops in order; no allocation, no failure paths.
// The model bytes must stay alive (and unchanged) while the interpreter is used, and must be
// 16-byte aligned (a std::vector / malloc buffer is).
//
//   tinyvit::rt::Interpreter it;
//   if (it.load(bytes, size) != Status::kOk) puts(it.error());
//   std::vector<uint8_t> arena(it.arena_bytes_needed());   // or a static buffer
//   it.allocate(arena.data(), arena.size());
//   memcpy(it.input(0).data, pixels, it.input(0).bytes);
//   it.invoke();
//   const float* logits = static_cast<const float*>(it.output(0).data);
#include <cstddef>
#include <cstdint>

namespace tinyvit::rt {

enum class Status : int {
  kOk = 0,
  kInvalidArgument,  // API misuse (null pointer, index out of range, wrong order of calls)
  kMalformedModel,   // the file is not a valid TFLite model, or is internally inconsistent
  kUnsupported,      // valid TFLite, but an op / type / option this runtime does not run
  kOutOfMemory,      // load() could not allocate its metadata
  kArenaTooSmall,    // allocate(): fewer bytes than arena_bytes_needed(), or misaligned
};
const char* status_name(Status s);

enum class DType : uint8_t { kFloat32 = 0, kInt8 = 1, kInt32 = 2 };
const char* dtype_name(DType t);
std::size_t dtype_size(DType t);

constexpr int kMaxRank = 6;
constexpr std::size_t kArenaAlignment = 16;

struct TensorView {
  DType type = DType::kFloat32;
  int rank = 0;
  int32_t dims[kMaxRank] = {};
  void* data = nullptr;     // in the arena (activations) or the model (constants)
  std::size_t bytes = 0;
  float scale = 0.f;        // int8: per-tensor scale and zero point (0 for float)
  int32_t zero_point = 0;
  const char* name = "";
  // Activations: arena offset and lifetime [first_op, last_op] from the plan (-1 = graph
  // input, num_ops = graph output); constants: arena_offset = -1.
  int64_t arena_offset = -1;
  int first_op = 0, last_op = 0;
};

// Which kernels invoke() runs. kAuto picks the fastest variant the CPU supports at run time
// (AVX2+FMA on x86 when present) and falls back to the portable reference kernels, which are
// the specification: every variant is tested against them (int8 bit-exact).
enum class KernelSet : uint8_t { kAuto = 0, kReference = 1 };

// Which integer arithmetic the int8 ops follow.
//   kReference: TensorFlow Lite's reference integer kernels, the arithmetic TensorFlow Lite Micro
//     runs on a microcontroller (fixed-point multiplier + shift, two roundings; SOFTMAX in
//     gemmlowp fixed point). The default, and what the Cortex-M firmware computes.
//   kLiteRt: what LiteRT's CPU runtime computes on x86/wasm, where its XNNPACK delegate runs
//     FULLY_CONNECTED, CONV_2D, BATCH_MATMUL, ADD, SUB, MUL, MEAN (requantization in float with
//     one rounding, XNNPACK's fixed-point ADD/SUB) and SOFTMAX is the builtin float-table
//     kernel. For checking a file against LiteRT bit for bit (docs/runtime.md); portable
//     kernels only (no SIMD variants).
enum class Int8Arithmetic : uint8_t { kReference = 0, kLiteRt = 1 };

struct LoadOptions {
  KernelSet kernels = KernelSet::kAuto;
  Int8Arithmetic arithmetic = Int8Arithmetic::kReference;
};

struct OpStats {
  const char* name;  // builtin op name
  int output_tensor;
};

struct Model;  // internal

class Interpreter {
 public:
  Interpreter();
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Verifies `model` (flatbuffers verifier + our checks: shapes, buffer bounds and alignment,
  // op versions, options, quantization parameters, every op's shape relations) and prepares
  // every op. Anything wrong -> a status and error() says what; never a crash.
  Status load(const void* model, std::size_t size, const LoadOptions& options = {});
  // Exact peak arena use of the plan (bytes); 0 before a successful load().
  std::size_t arena_bytes_needed() const;
  // Sum of the sizes of every tensor the arena holds (what a planner without reuse would need).
  std::size_t activation_bytes_total() const;
  Status allocate(void* arena, std::size_t bytes);
  // Runs the graph; kInvalidArgument if allocate() did not succeed.
  Status invoke();

  int num_inputs() const;
  int num_outputs() const;
  TensorView input(int i) const;
  TensorView output(int i) const;
  int num_tensors() const;
  TensorView tensor(int i) const;
  int num_ops() const;
  const char* op_name(int i) const;
  // "reference", "avx2" or "neon": which variant op `i` runs.
  const char* op_kernel(int i) const;
  // Runs op i alone (for per-op timing); ops before it must have run.
  void invoke_op(int i);

  const char* error() const;  // message of the last failed call ("" if none)

 private:
  Model* m_ = nullptr;
  char error_[256] = {};
};

// The CPU features the kAuto kernel choice looks at.
bool cpu_has_avx2_fma();
// aarch64 builds (NEON is mandatory there): the NEON variants are used with kAuto.
bool cpu_has_neon();

}  // namespace tinyvit::rt
