#include "models/config.h"

#include "common/error.h"

namespace tinyvit::models {

int VitConfig::heads_of(int block) const {
  return block_heads.empty() ? num_heads : block_heads.at(static_cast<size_t>(block));
}

int VitConfig::mlp_of(int block) const {
  return block_mlp.empty() ? static_cast<int>(mlp_ratio * static_cast<float>(embed_dim))
                           : block_mlp.at(static_cast<size_t>(block));
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"name", c.name}, {"family", c.family}};
  if (c.family == "vit") {
    const VitConfig& v = c.vit;
    j["vit"] = {{"img_size", v.img_size},       {"patch_size", v.patch_size},
                {"in_chans", v.in_chans},       {"num_classes", v.num_classes},
                {"embed_dim", v.embed_dim},     {"depth", v.depth},
                {"num_heads", v.num_heads},     {"head_dim", v.head_dim_resolved()},
                {"mlp_ratio", v.mlp_ratio},     {"block_heads", v.block_heads},
                {"block_mlp", v.block_mlp},     {"distill_token", v.distill_token},
                {"drop_path", v.drop_path},     {"dropout", v.dropout},
                {"ln_eps", v.ln_eps}};
    if (!v.stem_channels.empty()) j["vit"]["stem_channels"] = v.stem_channels;
  } else if (c.family == "cnn") {
    const CnnConfig& k = c.cnn;
    j["cnn"] = {{"widths", k.widths},           {"whiten_width", k.whiten_width},
                {"in_chans", k.in_chans},       {"num_classes", k.num_classes},
                {"img_size", k.img_size},       {"logit_scale", k.logit_scale}};
  } else {
    const ResNetConfig& r = c.resnet;
    j["resnet"] = {{"stem", r.stem},         {"layers", r.layers},
                   {"width", r.width},       {"in_chans", r.in_chans},
                   {"num_classes", r.num_classes}, {"img_size", r.img_size}};
  }
}

namespace {
template <typename T>
void get_opt(const nlohmann::json& j, const char* key, T& out) {
  if (j.contains(key)) out = j.at(key).get<T>();
}
}  // namespace

void from_json(const nlohmann::json& j, ModelConfig& c) {
  try {
    c.name = j.value("name", std::string());
    c.family = j.at("family").get<std::string>();
    if (c.family == "vit") {
      const auto& v = j.at("vit");
      VitConfig& o = c.vit;
      get_opt(v, "img_size", o.img_size);
      get_opt(v, "patch_size", o.patch_size);
      get_opt(v, "in_chans", o.in_chans);
      get_opt(v, "stem_channels", o.stem_channels);
      get_opt(v, "num_classes", o.num_classes);
      get_opt(v, "embed_dim", o.embed_dim);
      get_opt(v, "depth", o.depth);
      get_opt(v, "num_heads", o.num_heads);
      get_opt(v, "head_dim", o.head_dim);
      get_opt(v, "mlp_ratio", o.mlp_ratio);
      get_opt(v, "block_heads", o.block_heads);
      get_opt(v, "block_mlp", o.block_mlp);
      get_opt(v, "distill_token", o.distill_token);
      get_opt(v, "drop_path", o.drop_path);
      get_opt(v, "dropout", o.dropout);
      get_opt(v, "ln_eps", o.ln_eps);
    } else if (c.family == "resnet") {
      const auto& r = j.at("resnet");
      ResNetConfig& o = c.resnet;
      get_opt(r, "stem", o.stem);
      get_opt(r, "layers", o.layers);
      get_opt(r, "width", o.width);
      get_opt(r, "in_chans", o.in_chans);
      get_opt(r, "num_classes", o.num_classes);
      get_opt(r, "img_size", o.img_size);
    } else if (c.family == "cnn") {
      const auto& k = j.at("cnn");
      CnnConfig& o = c.cnn;
      get_opt(k, "widths", o.widths);
      get_opt(k, "whiten_width", o.whiten_width);
      get_opt(k, "in_chans", o.in_chans);
      get_opt(k, "num_classes", o.num_classes);
      get_opt(k, "img_size", o.img_size);
      get_opt(k, "logit_scale", o.logit_scale);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("model config: ") + e.what());
  }
  validate(c);
}

void validate(const ModelConfig& c) {
  auto fail = [&](const std::string& why) {
    throw Error("model config '" + c.name + "': " + why);
  };
  if (c.family == "vit") {
    const VitConfig& v = c.vit;
    if (v.stem_channels.size() > 8) fail("stem_channels has more than 8 layers");
    for (int w : v.stem_channels)
      if (w <= 0) fail("stem_channels must be positive");
    const int reduce = v.stem_stride() * v.patch_size;
    if (v.img_size <= 0 || v.patch_size <= 0 || v.img_size % reduce != 0)
      fail("img_size (" + std::to_string(v.img_size) + ") must be a positive multiple of " +
           (v.stem_channels.empty() ? std::string("patch_size (")
                                    : "2^(stem layers) * patch_size (") +
           std::to_string(reduce) + ")");
    if (v.embed_dim <= 0 || v.depth < 0 || v.num_heads <= 0 || v.num_classes <= 0 || v.in_chans <= 0)
      fail("embed_dim, num_heads, num_classes and in_chans must be positive, depth >= 0");
    if (v.head_dim <= 0 && v.embed_dim % v.num_heads != 0)
      fail("embed_dim (" + std::to_string(v.embed_dim) + ") must be divisible by num_heads (" +
           std::to_string(v.num_heads) + ") unless head_dim is given");
    if (!v.block_heads.empty() && static_cast<int>(v.block_heads.size()) != v.depth)
      fail("block_heads has " + std::to_string(v.block_heads.size()) + " entries, depth is " +
           std::to_string(v.depth));
    if (!v.block_mlp.empty() && static_cast<int>(v.block_mlp.size()) != v.depth)
      fail("block_mlp has " + std::to_string(v.block_mlp.size()) + " entries, depth is " +
           std::to_string(v.depth));
    for (int i = 0; i < v.depth; ++i) {
      if (v.heads_of(i) <= 0) fail("block " + std::to_string(i) + " has no attention heads");
      if (v.mlp_of(i) <= 0) fail("block " + std::to_string(i) + " has no MLP units");
    }
  } else if (c.family == "resnet") {
    const ResNetConfig& r = c.resnet;
    if (r.stem != "cifar" && r.stem != "imagenet") fail("stem must be 'cifar' or 'imagenet', got '" + r.stem + "'");
    if (r.layers.size() != 4) fail("layers must have 4 stage depths");
    if (r.width <= 0 || r.num_classes <= 0 || r.in_chans <= 0 || r.img_size <= 0)
      fail("width, num_classes, in_chans and img_size must be positive");
  } else if (c.family == "cnn") {
    const CnnConfig& k = c.cnn;
    if (k.widths.size() != 3) fail("widths must have 3 block widths");
    for (int w : k.widths)
      if (w <= 0) fail("block widths must be positive");
    if (k.in_chans <= 0 || k.num_classes <= 0) fail("in_chans and num_classes must be positive");
    if (k.whiten_width != 2 * k.in_chans * 4)
      fail("whiten_width must be 2 * in_chans * 4 (" + std::to_string(2 * k.in_chans * 4) + ")");
    // 2x2 valid conv, then three 2x2 max pools: the last block must keep at least 1 px.
    if (k.img_size < 9) fail("img_size must be at least 9 (a 2x2 conv, then three 2x2 pools)");
    if (!(k.logit_scale > 0)) fail("logit_scale must be positive");
  } else {
    fail("unknown family '" + c.family + "' (expected 'vit', 'resnet' or 'cnn')");
  }
}

}  // namespace tinyvit::models
