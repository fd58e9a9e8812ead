#include "models/checkpoint.h"

#include <algorithm>

#include "common/atomic_file.h"
#include "common/error.h"

namespace tinyvit::models {
namespace {

constexpr const char* kFormat = "tinyvit-checkpoint-v1";

std::string read_string(torch::serialize::InputArchive& ar, const std::string& key) {
  c10::IValue v;
  ar.read(key, v);
  if (!v.isString()) throw Error("entry '" + key + "' is not text");
  return v.toStringRef();
}

torch::serialize::InputArchive open_archive(const std::string& path, std::string& bytes) {
  bytes = read_file_bytes(path);
  torch::serialize::InputArchive ar;
  try {
    // Every tensor is read onto the CPU whatever device it was saved from (a run trained on a GPU
    // resumes or exports on a machine without one); callers move what they need.
    ar.load_from(bytes.data(), bytes.size(), torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw Error("'" + path + "' is not a readable checkpoint (truncated or corrupt?): " +
                std::string(e.what_without_backtrace()));
  }
  return ar;
}

}  // namespace

void save_checkpoint(const std::string& path, Classifier& model, const nlohmann::json& meta,
                     const ArchiveWriter& extra) {
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string(kFormat)));
  ar.write("config", c10::IValue(nlohmann::json(model.config()).dump()));
  ar.write("meta", c10::IValue(meta.dump()));
  torch::serialize::OutputArchive weights;
  model.save(weights);
  ar.write("model", weights);
  if (extra) extra(ar);
  write_file_atomic(path, [&](std::ostream& os) { ar.save_to(os); });
}

LoadedModel load_checkpoint(const std::string& path, const ArchiveReader& extra) {
  std::string bytes;
  auto ar = open_archive(path, bytes);
  LoadedModel out;
  try {
    if (read_string(ar, "format") != kFormat)
      throw Error("unsupported checkpoint format (expected " + std::string(kFormat) + ")");
    ModelConfig config = nlohmann::json::parse(read_string(ar, "config")).get<ModelConfig>();
    out.meta = nlohmann::json::parse(read_string(ar, "meta"));
    out.model = build_model(config);
    torch::serialize::InputArchive weights;
    ar.read("model", weights);
    out.model->load(weights);
    out.model->eval();
    if (extra) extra(ar);
  } catch (const c10::Error& e) {
    throw Error("checkpoint '" + path + "': " + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint '" + path + "': bad JSON: " + e.what());
  } catch (const Error& e) {
    throw Error("checkpoint '" + path + "': " + e.what());
  }
  return out;
}

std::vector<std::string> stored_class_names(const nlohmann::json& meta) {
  std::vector<std::string> names;
  if (!meta.is_object() || !meta.contains("class_names") || !meta["class_names"].is_array())
    return names;
  for (const auto& n : meta["class_names"]) {
    if (!n.is_string()) return {};
    names.push_back(n.get<std::string>());
  }
  return names;
}

bool checkpoint_has_key(const std::string& path, const std::string& key) {
  std::string bytes;
  auto ar = open_archive(path, bytes);
  const auto keys = ar.keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace tinyvit::models
