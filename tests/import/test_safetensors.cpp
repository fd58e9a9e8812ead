// safetensors reader/writer: round trip, dtype conversion, and damaged files. Torch-free: this
// file is also built with -fsanitize=address,undefined (test_safetensors_asan), so every
// corrupted-file case below also proves "no out-of-bounds read, no UB", not just "throws".
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "common/atomic_file.h"
#include "common/error.h"
#include "import/safetensors.h"

using namespace tinyvit;
using namespace tinyvit::import;

// The suite is named per build (Safetensors / SafetensorsAsan) so that ctest names stay unique.
#ifndef TINYVIT_ST_SUITE
#define TINYVIT_ST_SUITE Safetensors
#endif

namespace {

std::string tmp_path(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("tinyvit_st_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return (d / name).string();
}

// A file from a raw header string and a data section.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::vector<OutTensor> random_tensors(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<OutTensor> ts;
  const std::vector<std::vector<int64_t>> shapes = {{3, 4}, {7}, {2, 3, 2, 2}, {}, {0, 5}, {1}};
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    OutTensor t;
    t.name = "layer" + std::to_string(i) + ".weight";
    t.shape = shapes[i];
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    for (int64_t k = 0; k < n; ++k) t.f32.push_back(nd(rng));
    ts.push_back(t);
  }
  OutTensor c;
  c.name = "bn.num_batches_tracked";
  c.dtype = DType::I64;
  c.i64 = {std::numeric_limits<int64_t>::min() + 1};
  ts.push_back(c);
  return ts;
}

}  // namespace

TEST(TINYVIT_ST_SUITE, RoundTripIsBitExact) {
  const auto ts = random_tensors(7);
  const auto path = tmp_path("rt.safetensors");
  write_safetensors(path, ts, {{"format", "pt"}, {"note", "hello"}});
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "hello");
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (const auto& t : ts) {
    const TensorEntry* e = f.find(t.name);
    ASSERT_NE(e, nullptr) << t.name;
    EXPECT_EQ(e->shape, t.shape);
    EXPECT_EQ(e->dtype, t.dtype);
    if (t.dtype == DType::F32) {
      const auto v = f.to_float32(*e);
      ASSERT_EQ(v.size(), t.f32.size());
      if (!v.empty()) {  // bit-exact
        EXPECT_EQ(0, std::memcmp(v.data(), t.f32.data(), v.size() * 4)) << t.name;
      }
      EXPECT_THROW(f.to_int64(*e), Error);
    } else {
      EXPECT_EQ(f.to_int64(*e), t.i64);
      EXPECT_THROW(f.to_float32(*e), Error);
    }
  }
  // The data section is 8-byte aligned (header padded), as the reference writer does.
  const std::string bytes = read_file_bytes(path);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(TINYVIT_ST_SUITE, HalfAndBfloat16Conversion) {
  // Exact values: 1.0, -2.0, max half, smallest subnormal, inf, NaN; bf16 of 1.0 and -pi.
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xc049), -3.140625f);

  // And through the reader, with an odd (unaligned) data offset for the F16 tensor.
  const std::string data = std::string("\x00", 1) + std::string("\x00\x3c\x00\xc0", 4) +
                           std::string("\x80\x3f", 2);
  const auto f = SafetensorsFile(
      make_file(R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                R"("h":{"dtype":"F16","shape":[2],"data_offsets":[1,5]},)"
                R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[5,7]}})",
                data),
      "mem");
  EXPECT_EQ(f.to_float32(*f.find("h")), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.to_float32(*f.find("b")), (std::vector<float>{1.0f}));
  EXPECT_EQ(f.to_int64(*f.find("pad")), (std::vector<int64_t>{0}));
}

TEST(TINYVIT_ST_SUITE, CorruptedFilesGiveErrorsNotCrashes) {
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data16(16, '\x01');
  ASSERT_NO_THROW(SafetensorsFile(make_file(good_header, data16), "good"));

  struct Case {
    const char* what;
    std::string bytes;
  };
  std::vector<Case> cases;
  // Header length field.
  cases.push_back({"empty file", ""});
  cases.push_back({"shorter than 8 bytes", std::string("\x10\x00\x00", 3)});
  {
    std::string b = make_file(good_header, data16);
    const uint64_t huge = ~0ull;
    std::memcpy(b.data(), &huge, 8);
    cases.push_back({"header length 2^64-1", b});
    const uint64_t past = b.size();  // one byte more than what follows the length field
    std::memcpy(b.data(), &past, 8);
    cases.push_back({"header length past end", b});
  }
  // JSON.
  cases.push_back({"not JSON", make_file("{\"w\": [1, 2", data16)});
  cases.push_back({"JSON array", make_file("[1,2,3]", data16)});
  cases.push_back({"entry not object", make_file(R"({"w":5})", data16)});
  cases.push_back({"no dtype", make_file(R"({"w":{"shape":[4],"data_offsets":[0,16]}})", data16)});
  cases.push_back({"unknown dtype",
                   make_file(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,16]}})", data16)});
  cases.push_back({"negative dim",
                   make_file(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data16)});
  cases.push_back({"fractional dim",
                   make_file(R"({"w":{"dtype":"F32","shape":[4.5],"data_offsets":[0,16]}})", data16)});
  cases.push_back({"overflowing shape",
                   make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
                             data16)});
  // Offsets.
  cases.push_back({"offsets past data",
                   make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})", data16)});
  cases.push_back({"offsets reversed",
                   make_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", data16)});
  cases.push_back({"negative offset",
                   make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[-16,0]}})", data16)});
  cases.push_back({"one offset",
                   make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", data16)});
  cases.push_back({"size != shape*dtype",
                   make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data16)});
  cases.push_back({"huge end offset",
                   make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[18446744073709551600,18446744073709551615]}})",
                             data16)});
  cases.push_back({"overlapping tensors",
                   make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                             data16)});
  cases.push_back({"bad metadata", make_file(R"({"__metadata__":{"k":1}})", "")});
  // Truncated data: a valid file cut at every length (header and data).
  const std::string full = make_file(good_header, data16);
  for (std::size_t cut = 0; cut < full.size(); ++cut)
    cases.push_back({"truncated", full.substr(0, cut)});

  for (const auto& c : cases) {
    // The reader keeps exactly the file's bytes (a vector without slack), so in the _asan
    // build any read past the end is reported by AddressSanitizer.
    // If parsing wrongly succeeded, converting would touch the bad ranges: do it, so that
    // ASan would report the over-read rather than the test just failing.
    EXPECT_THROW(
        {
          SafetensorsFile f(c.bytes, "case");
          for (const auto& e : f.tensors()) {
            if (SafetensorsFile::is_floating(e.dtype)) f.to_float32(e);
            else f.to_int64(e);
          }
        },
        Error)
        << c.what << " (" << c.bytes.size() << " bytes)";
  }

  // Through the file API too (the error names the path).
  const auto path = tmp_path("bad.safetensors");
  write_bytes_atomic(path, full.data(), full.size() - 3);
  try {
    SafetensorsFile::open(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::open(tmp_path("does_not_exist.safetensors")), Error);
}

TEST(TINYVIT_ST_SUITE, RandomByteFlipsNeverCrash) {
  // Fuzz lightly: flip bytes of a valid file (header and data); every result either parses
  // (then every tensor must convert) or throws tinyvit::Error.
  const auto ts = random_tensors(3);
  const std::string good = encode_safetensors(ts, {{"k", "v"}});
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly the length field and the header, where the structure is.
      const std::size_t limit = (rng() % 4) ? std::min<std::size_t>(b.size(), 8 + 400) : b.size();
      b[rng() % limit] = static_cast<char>(rng());
    }
    try {
      SafetensorsFile f(b, "fuzz");
      for (const auto& e : f.tensors()) {
        if (SafetensorsFile::is_floating(e.dtype)) EXPECT_EQ(f.to_float32(e).size(), size_t(e.numel()));
        else EXPECT_EQ(f.to_int64(e).size(), size_t(e.numel()));
      }
    } catch (const Error&) {
    }
  }
}

TEST(TINYVIT_ST_SUITE, WriterRejectsBadInput) {
  OutTensor t;
  t.name = "w";
  t.shape = {2, 2};
  t.f32 = {1, 2, 3};  // 3 values for 4 elements
  EXPECT_THROW(encode_safetensors({t}, {}), Error);
  t.f32.push_back(4);
  EXPECT_THROW(encode_safetensors({t, t}, {}), Error);  // duplicate name
  t.name = "__metadata__";
  EXPECT_THROW(encode_safetensors({t}, {}), Error);
}
