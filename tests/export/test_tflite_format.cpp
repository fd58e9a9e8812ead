// The .tflite writer and reader: round trip, official header facts, and bad files rejected
// with tinyvit::Error (never a crash).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/tflite_builder.h"
#include "export/tflite_reader.h"
#include "export_test_util.h"

namespace tinyvit::exporter {
namespace {

using Op = tfl::BuiltinOperator;

struct Built {
  std::vector<uint8_t> bytes;
  std::vector<float> w, b;
};

// x (1, 5, 8) -> FULLY_CONNECTED(keep dims) -> GELU -> MEAN(axis -1) : (1, 5, 1)
Built build_small_graph(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  Built out;
  out.w.resize(6 * 8);
  out.b.resize(6);
  for (auto& v : out.w) v = n(rng);
  for (auto& v : out.b) v = n(rng);
  GraphBuilder g("round trip");
  const int x = g.add_tensor("x", {1, 5, 8}, tfl::TensorType::FLOAT32);
  const int w = g.add_constant("fc.weight", {6, 8}, out.w.data());
  const int b = g.add_constant("fc.bias", {6}, out.b.data());
  const int h = g.add_tensor("fc", {1, 5, 6}, tfl::TensorType::FLOAT32);
  tfl::FullyConnectedOptionsT fo;
  fo.keep_num_dims = true;
  tfl::BuiltinOptionsUnion fu;
  fu.Set(fo);
  g.add_op(Op::FULLY_CONNECTED, {x, w, b}, {h}, fu);
  const int act = g.add_tensor("gelu", {1, 5, 6}, tfl::TensorType::FLOAT32);
  g.add_op(Op::GELU, {h}, {act});
  const int32_t axis = -1;
  const int ax = g.add_constant("mean.axes", {1}, &axis);
  const int y = g.add_tensor("mean", {1, 5, 1}, tfl::TensorType::FLOAT32);
  tfl::ReducerOptionsT ro;
  ro.keep_dims = true;
  tfl::BuiltinOptionsUnion ru;
  ru.Set(ro);
  g.add_op(Op::MEAN, {act, ax}, {y}, ru);
  g.set_inputs({x});
  g.set_outputs({y});
  g.add_signature("serving_default", {{"x", x}}, {{"y", y}});
  out.bytes = g.finish();
  return out;
}

TEST(TfliteFormat, RoundTripPreservesTensorsOpsAndBuffers) {
  const Built built = build_small_graph(7);
  const auto& bytes = built.bytes;

  // The official header facts: identifier "TFL3" at bytes 4..7, flatbuffers-valid.
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()) + 4, 4), "TFL3");
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  ASSERT_TRUE(tfl::VerifyModelBuffer(verifier));

  const auto model = read_tflite(bytes.data(), bytes.size(), "round trip");
  EXPECT_EQ(model->version, 3u);
  EXPECT_EQ(model->description, "round trip");
  ASSERT_EQ(model->subgraphs.size(), 1u);
  const auto& sg = *model->subgraphs[0];
  ASSERT_EQ(sg.tensors.size(), 7u);
  EXPECT_EQ(sg.tensors[0]->name, "x");
  EXPECT_EQ(sg.tensors[0]->shape, (std::vector<int32_t>{1, 5, 8}));
  EXPECT_EQ(sg.tensors[0]->buffer, 0u);
  EXPECT_EQ(sg.tensors[1]->name, "fc.weight");
  EXPECT_EQ(sg.tensors[6]->shape, (std::vector<int32_t>{1, 5, 1}));
  EXPECT_EQ(sg.inputs, std::vector<int32_t>{0});
  EXPECT_EQ(sg.outputs, std::vector<int32_t>{6});

  // Constant data comes back bit for bit.
  const auto& wdata = model->buffers.at(sg.tensors[1]->buffer)->data;
  ASSERT_EQ(wdata.size(), built.w.size() * 4);
  EXPECT_EQ(std::memcmp(wdata.data(), built.w.data(), wdata.size()), 0);
  const auto& bdata = model->buffers.at(sg.tensors[2]->buffer)->data;
  EXPECT_EQ(std::memcmp(bdata.data(), built.b.data(), bdata.size()), 0);
  EXPECT_TRUE(model->buffers[0]->data.empty());

  // Operators, their options, and the opcode table (GELU = 150 > 127: deprecated field = 127).
  ASSERT_EQ(sg.operators.size(), 3u);
  const auto code = [&](int i) { return *model->operator_codes.at(sg.operators[i]->opcode_index); };
  EXPECT_EQ(code(0).builtin_code, Op::FULLY_CONNECTED);
  EXPECT_EQ(code(0).deprecated_builtin_code, 9);
  EXPECT_EQ(code(1).builtin_code, Op::GELU);
  EXPECT_EQ(static_cast<int>(Op::GELU), 150);
  EXPECT_EQ(code(1).deprecated_builtin_code, 127);
  EXPECT_EQ(code(2).builtin_code, Op::MEAN);
  ASSERT_NE(sg.operators[0]->builtin_options.AsFullyConnectedOptions(), nullptr);
  EXPECT_TRUE(sg.operators[0]->builtin_options.AsFullyConnectedOptions()->keep_num_dims);
  EXPECT_EQ(static_cast<int>(sg.operators[0]->builtin_options.type), 8);  // official union id
  EXPECT_EQ(static_cast<int>(sg.operators[2]->builtin_options.type), 27);
  EXPECT_EQ(sg.operators[0]->inputs, (std::vector<int32_t>{0, 1, 2}));

  ASSERT_EQ(model->signature_defs.size(), 1u);
  EXPECT_EQ(model->signature_defs[0]->signature_key, "serving_default");
  EXPECT_EQ(model->signature_defs[0]->outputs.at(0)->tensor_index, 6u);

  // Every non-empty buffer starts at a 16-byte aligned offset in the file.
  const auto* raw = tfl::GetModel(bytes.data());
  for (const auto* b : *raw->buffers()) {
    if (b->data() && b->data()->size()) {
      EXPECT_EQ((b->data()->data() - bytes.data()) % 16, 0);
    }
  }

  // Round trip through a file, atomically written.
  const std::string path = testing::temp_path("round_trip.tflite");
  write_tflite(path, bytes);
  const auto again = read_tflite_file(path);
  EXPECT_EQ(again->subgraphs[0]->tensors.size(), 7u);
  EXPECT_EQ(op_histogram(*again).at("GELU"), 1);
}

TEST(TfliteFormat, BuilderRejectsInconsistentGraphs) {
  GraphBuilder g;
  g.add_tensor("x", {1, 4}, tfl::TensorType::FLOAT32);
  EXPECT_THROW(g.add_tensor("x", {1, 4}, tfl::TensorType::FLOAT32), Error);  // duplicate name
  EXPECT_THROW(g.add_tensor("y", {1, 0}, tfl::TensorType::FLOAT32), Error);  // empty dim
  const float v[3] = {1, 2, 3};
  const int b = g.add_buffer(v, sizeof(v));
  EXPECT_THROW(g.add_tensor("c", {4}, tfl::TensorType::FLOAT32, b), Error);  // size mismatch
  EXPECT_THROW(g.add_op(Op::ADD, {0, 5}, {0}), Error);                       // bad index
}

TEST(TfliteFormat, TruncatedFilesAreRejected) {
  const auto bytes = build_small_graph(1).bytes;
  int rejected = 0;
  for (std::size_t len = 0; len < bytes.size(); len += (len < 64 ? 1 : 7)) {
    EXPECT_THROW(read_tflite(bytes.data(), len, "truncated"), Error) << "length " << len;
    ++rejected;
  }
  EXPECT_GT(rejected, 100);
  const std::string path = testing::temp_path("missing.tflite");
  EXPECT_THROW(read_tflite_file(path), Error);
}

TEST(TfliteFormat, CorruptedFilesAreRejectedOrReadSafely) {
  const auto good = build_small_graph(2).bytes;
  // Wrong identifier.
  auto bad = good;
  bad[4] = 'X';
  EXPECT_THROW(read_tflite(bad.data(), bad.size(), "bad id"), Error);
  // Root offset pointing past the end.
  bad = good;
  const uint32_t far = static_cast<uint32_t>(good.size() + 100);
  std::memcpy(bad.data(), &far, 4);
  EXPECT_THROW(read_tflite(bad.data(), bad.size(), "bad root"), Error);
  // Random byte flips (seeded): each file is either rejected with an Error or, where the flip
  // only changed constant data, read back. Never a crash.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::size_t> pos(0, good.size() - 1);
  std::uniform_int_distribution<int> val(0, 255);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    bad = good;
    for (int k = 0; k < 4; ++k) bad[pos(rng)] = static_cast<uint8_t>(val(rng));
    try {
      read_tflite(bad.data(), bad.size(), "corrupted");
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(TfliteFormat, LogicallyInvalidModelsAreRejected) {
  const auto good = build_small_graph(3).bytes;
  auto repack = [](const tfl::ModelT& m) {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(tfl::Model::Pack(fbb, &m), tfl::ModelIdentifier());
    return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  auto mutate_and_expect_error = [&](const std::function<void(tfl::ModelT&)>& f,
                                     const std::string& what) {
    auto m = read_tflite(good.data(), good.size());
    f(*m);
    const auto bytes = repack(*m);
    EXPECT_THROW(read_tflite(bytes.data(), bytes.size(), what), Error) << what;
  };
  mutate_and_expect_error([](tfl::ModelT& m) { m.version = 2; }, "version");
  mutate_and_expect_error([](tfl::ModelT& m) { m.subgraphs[0]->tensors[0]->buffer = 99; },
                          "buffer index");
  mutate_and_expect_error([](tfl::ModelT& m) { m.subgraphs[0]->operators[0]->inputs[0] = 42; },
                          "op input");
  mutate_and_expect_error([](tfl::ModelT& m) { m.subgraphs[0]->operators[1]->opcode_index = 9; },
                          "opcode index");
  mutate_and_expect_error([](tfl::ModelT& m) { m.subgraphs[0]->tensors[1]->shape = {7, 8}; },
                          "constant size");
  mutate_and_expect_error([](tfl::ModelT& m) { m.buffers[0]->data = {1, 2, 3}; }, "buffer 0");
  mutate_and_expect_error([](tfl::ModelT& m) { m.subgraphs.clear(); }, "no subgraph");
  mutate_and_expect_error(
      [](tfl::ModelT& m) { m.signature_defs[0]->inputs[0]->tensor_index = 77; }, "signature");
}

TEST(TfliteFormat, CArrayHoldsTheExactBytes) {
  const auto bytes = build_small_graph(4).bytes;
  const std::string prefix = testing::temp_path("model_data");
  write_c_array(prefix, bytes, "g_model");
  const std::string h = read_file_bytes(prefix + ".h");
  const std::string cc = read_file_bytes(prefix + ".cc");
  EXPECT_NE(h.find("extern const unsigned char g_model[];"), std::string::npos);
  EXPECT_NE(cc.find("alignas(16) const unsigned char g_model[]"), std::string::npos);
  EXPECT_NE(cc.find("#include \"model_data.h\""), std::string::npos);
  EXPECT_NE(cc.find("g_model_len = " + std::to_string(bytes.size()) + ";"), std::string::npos);
  // Parse the hex back.
  std::vector<uint8_t> parsed;
  for (std::size_t p = cc.find("0x"); p != std::string::npos; p = cc.find("0x", p + 4))
    parsed.push_back(static_cast<uint8_t>(std::stoi(cc.substr(p + 2, 2), nullptr, 16)));
  EXPECT_EQ(parsed, bytes);
  EXPECT_THROW(write_c_array(prefix, bytes, "9bad name"), Error);
}

// The class names of a C array, compiled by the C++ compiler that builds this project and
// printed by a small program: every name comes back byte for byte, UTF-8, quotes, backslash,
// '?' and a name that starts with digits right after an escaped byte included.
TEST(TfliteFormat, CArrayClassNamesCompileToTheSameStrings) {
  const auto bytes = build_small_graph(4).bytes;
  const std::string prefix = testing::temp_path("named_model");
  const std::vector<std::string> names = {"ant", "tulip \"rouge\"", "\xc3\x84hre 7",
                                          "back\\slash", "what?\?=", "\xc3\xa9" "123", ""};
  write_c_array(prefix, bytes, "g_named", names);
  const std::string h = read_file_bytes(prefix + ".h");
  EXPECT_NE(h.find("extern const char* const g_named_class_names[];"), std::string::npos);
  EXPECT_NE(h.find("extern const unsigned int g_named_num_classes;"), std::string::npos);
  const std::string main_cc = prefix + "_main.cc", exe = prefix + "_main", out = prefix + ".out";
  write_text_atomic(main_cc,
                    "#include <cstdio>\n#include \"named_model.h\"\n"
                    "int main() {\n"
                    "  std::printf(\"%u\\n\", g_named_num_classes);\n"
                    "  for (unsigned i = 0; i < g_named_num_classes; ++i)\n"
                    "    std::printf(\"[%s]\\n\", g_named_class_names[i]);\n"
                    "  return g_named_len == 0;\n}\n");
  const std::string cmd = std::string(TINYVIT_CXX_FOR_TESTS) + " -std=c++17 -Wall -Werror -o " +
                          exe + " " + main_cc + " " + prefix + ".cc && " + exe + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string want = std::to_string(names.size()) + "\n";
  for (const auto& n : names) want += "[" + n + "]\n";
  EXPECT_EQ(read_file_bytes(out), want);
  // Without names: no class-name symbols at all.
  write_c_array(prefix, bytes, "g_named");
  EXPECT_EQ(read_file_bytes(prefix + ".h").find("class_names"), std::string::npos);
}

}  // namespace
}  // namespace tinyvit::exporter
