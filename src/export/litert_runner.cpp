#include "export/litert_runner.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace tinyvit::exporter {
namespace {

namespace fs = std::filesystem;

const char* kInstallHint = "run scripts/install-deps.sh --test";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A private temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/tinyvit-litert-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw Error("litert: cannot create a temporary directory in " + templ);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string litert_dir() {
  const char* env = std::getenv("TINYVIT_LITERT_DIR");
  if (env && *env) return env;
  return TINYVIT_LITERT_DEFAULT_DIR;
}

void check_litert_available(const std::string& dir) {
  if (std::system("command -v node >/dev/null 2>&1") != 0)
    throw Error(std::string("litert: Node.js (node) is not installed: ") + kInstallHint);
  if (!fs::exists(dir + "/run.mjs"))
    throw Error("litert: " + dir + "/run.mjs not found (set TINYVIT_LITERT_DIR to tools/litert)");
  if (!fs::exists(dir + "/node_modules/@litertjs/core/package.json"))
    throw Error("litert: LiteRT.js is not installed in " + dir + "/node_modules: " +
                kInstallHint);
}

LiteRtOutput run_litert(const std::string& model_path, const void* inputs, std::size_t bytes,
                        const std::string& dir) {
  check_litert_available(dir);
  if (!fs::exists(model_path)) throw Error("litert: model file " + model_path + " not found");
  TempDir tmp;
  const std::string in = tmp.file("inputs.bin"), out = tmp.file("outputs.bin");
  const std::string info = tmp.file("info.json"), err = tmp.file("stderr.txt");
  write_bytes_atomic(in, inputs, bytes);
  const std::string cmd = "node " + quote(dir + "/run.mjs") + " " + quote(model_path) + " " +
                          quote(in) + " " + quote(out) + " >" + quote(info) + " 2>" + quote(err);
  const int status = std::system(cmd.c_str());
  if (status != 0) {
    std::string msg = read_text(err);
    if (msg.size() > 4000) msg = msg.substr(0, 4000) + "...";
    throw Error("litert: running " + model_path + " in LiteRT.js failed (exit status " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "):\n" + msg);
  }
  LiteRtOutput result;
  const std::string raw = read_file_bytes(out);
  result.bytes.assign(raw.begin(), raw.end());
  try {
    result.info = nlohmann::json::parse(read_text(info));
  } catch (const std::exception& e) {
    throw Error(std::string("litert: run.mjs printed no valid summary: ") + e.what());
  }
  return result;
}

std::vector<float> run_litert_f32(const std::string& model_path, const std::vector<float>& inputs,
                                  const std::string& dir) {
  LiteRtOutput r = run_litert(model_path, inputs.data(), inputs.size() * sizeof(float), dir);
  const auto& ins = r.info.at("inputs");
  const auto& outs = r.info.at("outputs");
  if (ins.size() != 1 || outs.size() != 1 || ins[0].at("type") != "float32" ||
      outs[0].at("type") != "float32")
    throw Error("litert: " + model_path + " is not a one-input, one-output float32 model: " +
                r.info.dump());
  std::vector<float> y(r.bytes.size() / sizeof(float));
  std::memcpy(y.data(), r.bytes.data(), y.size() * sizeof(float));
  return y;
}

}  // namespace tinyvit::exporter
