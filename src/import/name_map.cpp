#include "import/name_map.h"

#include <regex>

namespace tinyvit::import {

std::string strip_prefixes(std::string name) {
  for (bool again = true; again;) {
    again = false;
    for (const char* p : {"module.", "model."}) {
      const std::string prefix(p);
      if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
        name.erase(0, prefix.size());
        again = true;
      }
    }
  }
  return name;
}

std::string torchvision_vit_to_timm(const std::string& name) {
  static const std::vector<std::pair<std::regex, std::string>> rules = [] {
    const std::string L = R"(^encoder\.layers\.encoder_layer_(\d+)\.)";
    std::vector<std::pair<std::regex, std::string>> r = {
        {std::regex(R"(^conv_proj\.)"), "patch_embed.proj."},
        {std::regex(R"(^class_token$)"), "cls_token"},
        {std::regex(R"(^encoder\.pos_embedding$)"), "pos_embed"},
        {std::regex(L + R"(ln_1\.)"), "blocks.$1.norm1."},
        {std::regex(L + R"(ln_2\.)"), "blocks.$1.norm2."},
        {std::regex(L + R"(self_attention\.in_proj_weight$)"), "blocks.$1.attn.qkv.weight"},
        {std::regex(L + R"(self_attention\.in_proj_bias$)"), "blocks.$1.attn.qkv.bias"},
        {std::regex(L + R"(self_attention\.out_proj\.)"), "blocks.$1.attn.proj."},
        {std::regex(L + R"(mlp\.(0|linear_1)\.)"), "blocks.$1.mlp.fc1."},
        {std::regex(L + R"(mlp\.(3|linear_2)\.)"), "blocks.$1.mlp.fc2."},
        {std::regex(R"(^encoder\.ln\.)"), "norm."},
        {std::regex(R"(^heads\.head\.)"), "head."},
    };
    return r;
  }();
  for (const auto& [re, to] : rules) {
    if (std::regex_search(name, re)) return std::regex_replace(name, re, to);
  }
  return name;
}

StateDict canonicalize(const StateDict& sd, const std::string& family,
                       std::vector<std::string>* notes) {
  StateDict out;
  bool stripped = false, renamed = false;
  for (const auto& [name, t] : sd) {
    std::string n = strip_prefixes(name);
    stripped |= n != name;
    if (family == "vit") {
      const std::string m = torchvision_vit_to_timm(n);
      renamed |= m != n;
      n = m;
    }
    out.emplace_back(n, t);
  }
  if (notes && stripped) notes->push_back("stripped 'module.' / 'model.' prefixes");
  if (notes && renamed) notes->push_back("renamed torchvision VisionTransformer names to timm's");
  return out;
}

}  // namespace tinyvit::import
