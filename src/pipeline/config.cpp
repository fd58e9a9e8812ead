#include "pipeline/config.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "common/error.h"
#include "pipeline/presets.h"

namespace tinyvit::pipeline {
namespace {

// A key of a table, bound to a field: `read` parses it, `write` emits it.
struct Field {
  std::string key;
  std::function<void(const toml::node&, const std::string&)> read;
  std::function<void(toml::table&)> write;
};

template <typename T>
T get_as(const toml::node& n, const std::string& where) {
  if constexpr (std::is_same_v<T, bool>) {
    if (auto v = n.value<bool>()) return *v;
    throw Error(where + " must be true or false");
  } else if constexpr (std::is_integral_v<T>) {
    if (auto v = n.value<int64_t>()) return static_cast<T>(*v);
    throw Error(where + " must be an integer");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto v = n.value<double>()) return static_cast<T>(*v);  // ints convert too
    throw Error(where + " must be a number");
  } else {
    if (auto v = n.value<std::string>()) return *v;
    throw Error(where + " must be a string");
  }
}

template <typename T>
Field field(const std::string& key, T& ref) {
  return Field{key, [&ref](const toml::node& n, const std::string& where) { ref = get_as<T>(n, where); },
               [key, &ref](toml::table& t) {
                 if constexpr (std::is_same_v<T, uint64_t>) t.insert_or_assign(key, static_cast<int64_t>(ref));
                 else if constexpr (std::is_same_v<T, float>) t.insert_or_assign(key, static_cast<double>(ref));
                 else if constexpr (std::is_same_v<T, int>) t.insert_or_assign(key, static_cast<int64_t>(ref));
                 else t.insert_or_assign(key, ref);
               }};
}

std::vector<Field> run_fields(PipelineConfig& c) {
  return {field("name", c.name), field("out", c.out), field("device", c.device),
          field("threads", c.threads), field("seed", c.seed)};
}

std::vector<Field> data_fields(DataConfig& d) {
  return {field("path", d.path),           field("val_size", d.val_size),
          field("train_limit", d.train_limit), field("val_limit", d.val_limit),
          field("split_seed", d.split_seed), field("cache_dir", d.cache_dir),
          field("skip_bad", d.skip_bad),   field("workers", d.workers),
          field("store_size", d.store_size)};
}

std::vector<Field> export_fields(ExportConfig& e) {
  return {field("enabled", e.enabled), field("target", e.target),
          field("verify_images", e.verify_images)};
}

std::vector<Field> quantize_fields(QuantizeConfig& q) {
  return {field("enabled", q.enabled),         field("method", q.method),
          field("percentile", q.percentile),   field("calib_size", q.calib_size),
          field("io", q.io),                   field("eval_images", q.eval_images),
          field("litert_images", q.litert_images), field("rotate", q.rotate),
          field("qat_steps", q.qat_steps),         field("qat_images", q.qat_images),
          field("qat_augment", q.qat_augment),     field("qat_lr", q.qat_lr),
          field("qat_alpha", q.qat_alpha)};
}

std::vector<Field> prune_fields(PruneConfig& p) {
  auto& j = p.job;
  auto& t = j.stage.train;
  return {field("enabled", p.enabled),
          field("heads", j.opt.heads),
          field("mlp", j.opt.mlp),
          field("blocks", j.opt.blocks),
          field("criterion", j.criterion),
          field("global", j.opt.global),
          field("min_heads", j.opt.min_heads),
          field("min_mlp", j.opt.min_mlp),
          field("mlp_multiple", j.opt.mlp_multiple),
          field("steps", j.steps),
          field("calib_batches", j.calib_batches),
          field("latency_runs", j.latency_runs),
          field("recover_epochs", t.epochs),
          field("batch_size", j.stage.batch_size),
          field("lr", t.lr),
          field("warmup_epochs", t.warmup_epochs),
          field("alpha", t.distill.alpha),
          field("temperature", t.distill.temperature),
          field("max_steps_per_epoch", t.max_steps_per_epoch),
          field("precision", t.precision)};
}

void check_member(const std::string& value, const std::vector<std::string>& allowed,
                  const std::string& where) {
  for (const auto& a : allowed)
    if (value == a) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : " | \"") + a + "\"";
  throw Error(fmt::format("{} must be {}, got \"{}\"", where, list, value));
}

std::vector<Field> stage_fields(StageConfig& s, bool student) {
  auto& t = s.train;
  auto& a = s.aug;
  std::vector<Field> f = {
      field("model", s.model),
      field("init", s.init),
      field("epochs", t.epochs),
      field("batch_size", s.batch_size),
      field("optimizer", t.optimizer),
      field("lr", t.lr),
      field("min_lr", t.min_lr),
      field("weight_decay", t.weight_decay),
      field("decay_norms_and_biases", t.decay_norms_and_biases),
      field("momentum", t.momentum),
      field("warmup_epochs", t.warmup_epochs),
      field("schedule", t.schedule),
      field("norm_bias_lr_scale", t.norm_bias_lr_scale),
      field("lookahead", t.lookahead),
      field("lookahead_start_epochs", t.lookahead_start_epochs),
      field("whiten_bias_epochs", t.whiten_bias_epochs),
      field("eval_tta", t.eval_tta),
      field("label_smoothing", t.label_smoothing),
      field("grad_clip", t.grad_clip),
      field("channels_last", t.channels_last),
      field("precision", t.precision),
      field("checkpoint_minutes", t.checkpoint_minutes),
      field("max_steps_per_epoch", t.max_steps_per_epoch),
      field("random_crop", a.random_crop),
      field("crop_padding", a.crop_padding),
      field("reflect_padding", a.reflect_padding),
      field("hflip", a.hflip),
      field("alternating_flip", a.alternating_flip),
      field("randaugment_ops", a.randaugment_ops),
      field("randaugment_magnitude", a.randaugment_magnitude),
      field("mixup", a.mixup_alpha),
      field("cutmix", a.cutmix_alpha),
      field("random_erasing", a.random_erasing),
      field("drop_path", s.drop_path),
      field("distill_token", s.distill_token),
  };
  if (student) {
    f.push_back(field("alpha", t.distill.alpha));
    f.push_back(field("temperature", t.distill.temperature));
    f.push_back(field("hard", t.distill.hard));
  }
  return f;
}

void read_table(const toml::table* tbl, std::vector<Field> fields, const std::string& table,
                const std::string& origin) {
  if (!tbl) return;
  std::map<std::string, Field*> by_key;
  for (auto& f : fields) by_key[f.key] = &f;
  for (const auto& [k, node] : *tbl) {
    const std::string key(k.str());
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      std::string known;
      for (const auto& f : fields) known += (known.empty() ? "" : ", ") + f.key;
      throw Error(fmt::format("{}: unknown key '{}' in [{}] (known: {})", origin, key, table, known));
    }
    it->second->read(node, fmt::format("{}: [{}] {}", origin, table, key));
  }
}

toml::table write_table(const std::vector<Field>& fields) {
  toml::table t;
  for (const auto& f : fields) f.write(t);
  return t;
}

}  // namespace

PipelineConfig parse_pipeline_config(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& s = e.source().begin;
    throw Error(fmt::format("{}:{}:{}: {}", origin, s.line, s.column, e.description()));
  }
  PipelineConfig c;
  c.teacher.model = "resnet18_cifar";
  c.teacher.train.optimizer = "sgd";
  c.teacher.train.lr = 0.1;
  c.teacher.train.weight_decay = 5e-4;
  c.teacher.train.channels_last = true;
  c.student.model = "vit_micro_convtok_32";
  c.teacher.train.stage = "teacher";
  c.student.train.stage = "student";
  static const std::set<std::string> tables = {"run",    "data",  "teacher", "student",
                                               "export", "prune", "quantize"};
  for (const auto& [k, node] : root) {
    if (!tables.count(std::string(k.str())) || !node.is_table())
      throw Error(fmt::format("{}: unknown section [{}] (known: [run], [data], [teacher], [student], [export], "
                              "[prune], [quantize])",
                              origin, k.str()));
  }
  read_table(root["run"].as_table(), run_fields(c), "run", origin);
  read_table(root["data"].as_table(), data_fields(c.data), "data", origin);
  read_table(root["teacher"].as_table(), stage_fields(c.teacher, false), "teacher", origin);
  read_table(root["student"].as_table(), stage_fields(c.student, true), "student", origin);
  read_table(root["export"].as_table(), export_fields(c.exporting), "export", origin);
  if (c.exporting.target != "tflite" && c.exporting.target != "tflm")
    throw Error(fmt::format("{}: [export] target must be \"tflite\" or \"tflm\", got \"{}\"",
                            origin, c.exporting.target));
  read_table(root["prune"].as_table(), prune_fields(c.prune), "prune", origin);
  read_table(root["quantize"].as_table(), quantize_fields(c.quantize), "quantize", origin);
  for (const auto& [st, name] : {std::pair{&c.teacher, "teacher"}, std::pair{&c.student, "student"}}) {
    check_member(st->train.optimizer, {"adamw", "sgd"}, fmt::format("{}: [{}] optimizer", origin, name));
    check_member(st->train.schedule, {"cosine", "triangular"}, fmt::format("{}: [{}] schedule", origin, name));
    check_member(st->train.precision, {"fp32", "bf16", "auto"},
                 fmt::format("{}: [{}] precision", origin, name));
    if (!(st->train.norm_bias_lr_scale > 0))
      throw Error(fmt::format("{}: [{}] norm_bias_lr_scale must be positive", origin, name));
    if (st->train.whiten_bias_epochs < 0)
      throw Error(fmt::format("{}: [{}] whiten_bias_epochs must be >= 0", origin, name));
    validate_stage(*st, st == &c.student, fmt::format("{}: [{}]", origin, name));
  }
  check_member(c.quantize.method, {"minmax", "percentile", "mse"}, origin + ": [quantize] method");
  check_member(c.quantize.io, {"int8", "uint8", "float32"}, origin + ": [quantize] io");
  const auto& q = c.quantize;
  if (q.qat_steps < 0 || q.qat_images < 0 || q.qat_lr <= 0 || q.qat_alpha < 0 || q.qat_alpha > 1)
    throw Error(origin + ": [quantize] qat_steps and qat_images must be >= 0, qat_lr > 0, "
                "qat_alpha in [0, 1]");
  check_member(c.prune.job.criterion, {"l1", "l2", "taylor"}, origin + ": [prune] criterion");
  check_member(c.prune.job.stage.train.precision, {"fp32", "bf16", "auto"},
               origin + ": [prune] precision");
  const auto& po = c.prune.job.opt;
  if (po.heads < 0 || po.heads >= 1 || po.mlp < 0 || po.mlp >= 1 || po.blocks < 0)
    throw Error(fmt::format("{}: [prune] heads and mlp must be fractions in [0, 1), blocks >= 0",
                            origin));
  if (c.prune.job.steps < 1) throw Error(origin + ": [prune] steps must be >= 1");
  if (c.out.empty()) c.out = "runs/" + c.name;
  return c;
}

std::string to_toml(const PipelineConfig& c0) {
  PipelineConfig c = c0;  // fields bind by reference
  toml::table root;
  root.insert("run", write_table(run_fields(c)));
  root.insert("data", write_table(data_fields(c.data)));
  root.insert("teacher", write_table(stage_fields(c.teacher, false)));
  root.insert("student", write_table(stage_fields(c.student, true)));
  root.insert("export", write_table(export_fields(c.exporting)));
  root.insert("prune", write_table(prune_fields(c.prune)));
  root.insert("quantize", write_table(quantize_fields(c.quantize)));
  std::ostringstream os;
  os << root << "\n";
  return os.str();
}

std::string preset_toml(const std::string& name) {
  for (const auto& p : kPresets)
    if (name == p.name) return p.toml;
  throw Error("unknown preset '" + name + "' (known: smoke, quick, full)");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> n;
  for (const auto& p : kPresets) n.push_back(p.name);
  return n;
}

}  // namespace tinyvit::pipeline
