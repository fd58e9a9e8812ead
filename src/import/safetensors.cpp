#include "import/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "common/atomic_file.h"
#include "common/error.h"

namespace tinyvit::import {

// Tensor data is little-endian; we copy it with memcpy, which is only right on such hosts
// (x86-64, AArch64, Cortex-M all are).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

namespace {

// The reference implementation refuses headers above 100 MB; so do we (a corrupted length
// must not turn into a huge allocation).
constexpr uint64_t kMaxHeader = 100ull << 20;

struct DTypeInfo {
  DType type;
  const char* name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2}, {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d;
  throw Error("internal: unknown DType");
}

template <typename T>
T load(const unsigned char* p) {  // unaligned little-endian load
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

const char* dtype_name(DType t) { return info(t).name; }
std::size_t dtype_size(DType t) { return info(t).size; }

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;  // validated not to overflow when parsed
  return n;
}

bool SafetensorsFile::is_floating(DType t) {
  return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // +-0
    } else {        // subnormal: normalise the mantissa
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;  // inf / NaN
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  return SafetensorsFile(read_file_bytes(path), path);
}

SafetensorsFile::SafetensorsFile(std::string bytes, std::string what)
    : bytes_(bytes.begin(), bytes.end()), what_(std::move(what)) {
  std::string().swap(bytes);  // free the caller's copy now
  auto fail = [&](const std::string& why) -> Error {
    return Error("safetensors file '" + what_ + "': " + why);
  };
  if (bytes_.size() < 8) throw fail("shorter than the 8-byte header length (truncated?)");
  const uint64_t n = load<uint64_t>(reinterpret_cast<const unsigned char*>(bytes_.data()));
  if (n > kMaxHeader || n > bytes_.size() - 8)
    throw fail("header length " + std::to_string(n) + " does not fit in the file (" +
               std::to_string(bytes_.size()) + " bytes): truncated or not a safetensors file");
  data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = bytes_.size() - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + data_start_);
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail("header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw fail("__metadata__['" + m.key() + "'] is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return fail("tensor '" + name + "': " + why); };
    if (!v.is_object()) throw bad("entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("missing 'dtype'");
    if (!v.contains("shape") || !v["shape"].is_array()) throw bad("missing 'shape'");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2 || !v["data_offsets"][0].is_number_unsigned() ||
        !v["data_offsets"][1].is_number_unsigned())
      throw bad("'data_offsets' must be [begin, end] with non-negative integers");

    TensorEntry t;
    t.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    const DTypeInfo* di = nullptr;
    for (const auto& d : kDTypes)
      if (dt == d.name) di = &d;
    if (!di)
      throw bad("unsupported dtype '" + dt + "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    t.dtype = di->type;

    // numel * element size must fit in the data section; check each product for overflow.
    uint64_t bytes_needed = di->size;
    bool zero = false;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw bad("shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX)) throw bad("dimension too large");
      t.shape.push_back(static_cast<int64_t>(dim));
      if (dim == 0) zero = true;
      if (!zero && __builtin_mul_overflow(bytes_needed, dim, &bytes_needed))
        throw bad("shape too large");
    }
    if (zero) bytes_needed = 0;

    const uint64_t b = v["data_offsets"][0].get<uint64_t>();
    const uint64_t e = v["data_offsets"][1].get<uint64_t>();
    if (b > e) throw bad("data_offsets begin " + std::to_string(b) + " > end " + std::to_string(e));
    if (e > data_size)
      throw bad("data_offsets end " + std::to_string(e) + " is past the data section (" +
                std::to_string(data_size) + " bytes): truncated file or wrong offsets");
    if (e - b != bytes_needed)
      throw bad("shape and dtype need " + std::to_string(bytes_needed) + " bytes, data_offsets give " +
                std::to_string(e - b));
    t.begin = static_cast<std::size_t>(b);
    t.end = static_cast<std::size_t>(e);
    tensors_.push_back(std::move(t));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (std::size_t i = 1; i < tensors_.size(); ++i)
    if (tensors_[i].begin < tensors_[i - 1].end)
      throw fail("tensors '" + tensors_[i - 1].name + "' and '" + tensors_[i].name +
                 "' overlap in the data section");
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const unsigned char* SafetensorsFile::data_of(const TensorEntry& t) const {
  // Entries only come from this file's validated header; re-check anyway (cheap).
  if (t.end > bytes_.size() - data_start_ || t.begin > t.end ||
      t.end - t.begin != static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype))
    throw Error("safetensors file '" + what_ + "': tensor '" + t.name + "' is not from this file");
  return reinterpret_cast<const unsigned char*>(bytes_.data()) + data_start_ + t.begin;
}

std::vector<float> SafetensorsFile::to_float32(const TensorEntry& t) const {
  if (!is_floating(t.dtype))
    throw Error("safetensors file '" + what_ + "': tensor '" + t.name + "' is " +
                dtype_name(t.dtype) + ", expected a floating-point tensor");
  const unsigned char* p = data_of(t);
  const auto n = static_cast<std::size_t>(t.numel());
  std::vector<float> out(n);
  switch (t.dtype) {
    case DType::F32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load<double>(p + 8 * i));
      break;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(load<uint16_t>(p + 2 * i));
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_float(load<uint16_t>(p + 2 * i));
      break;
    default:
      break;
  }
  return out;
}

std::vector<int64_t> SafetensorsFile::to_int64(const TensorEntry& t) const {
  if (is_floating(t.dtype))
    throw Error("safetensors file '" + what_ + "': tensor '" + t.name + "' is " +
                dtype_name(t.dtype) + ", expected an integer tensor");
  const unsigned char* p = data_of(t);
  const auto n = static_cast<std::size_t>(t.numel());
  std::vector<int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::I64: out[i] = load<int64_t>(p + 8 * i); break;
      case DType::I32: out[i] = load<int32_t>(p + 4 * i); break;
      case DType::I16: out[i] = load<int16_t>(p + 2 * i); break;
      case DType::I8: out[i] = load<int8_t>(p + i); break;
      case DType::U8: out[i] = load<uint8_t>(p + i); break;
      case DType::BOOL: out[i] = p[i] != 0; break;
      default: break;
    }
  }
  return out;
}

std::string encode_safetensors(const std::vector<OutTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || header.contains(t.name))
      throw Error("safetensors: duplicate or reserved tensor name '" + t.name + "'");
    if (t.dtype != DType::F32 && t.dtype != DType::I64)
      throw Error("safetensors writer: tensor '" + t.name + "' must be F32 or I64");
    int64_t numel = 1;
    for (auto d : t.shape) {
      if (d < 0) throw Error("safetensors writer: tensor '" + t.name + "' has a negative dim");
      numel *= d;
    }
    const std::size_t have = t.dtype == DType::F32 ? t.f32.size() : t.i64.size();
    if (have != static_cast<std::size_t>(numel))
      throw Error("safetensors writer: tensor '" + t.name + "' has " + std::to_string(have) +
                  " values for a shape of " + std::to_string(numel));
    const std::size_t bytes = have * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - (8 + h.size()) % 8) % 8, ' ');  // data section starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out += h;
  out.reserve(out.size() + offset);
  for (const auto& t : tensors) {
    if (t.dtype == DType::F32)
      out.append(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * 4);
    else
      out.append(reinterpret_cast<const char*>(t.i64.data()), t.i64.size() * 8);
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<OutTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string bytes = encode_safetensors(tensors, metadata);
  write_bytes_atomic(path, bytes.data(), bytes.size());
}

}  // namespace tinyvit::import
