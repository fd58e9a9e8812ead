#pragma once
// Parameter names: sources -> ours. Our ViT already uses timm's VisionTransformer names and our
// ResNet torchvision's resnet names (models/config.h), so timm ViT and torchvision/timm ResNet
// checkpoints map 1:1 after prefix stripping; torchvision's VisionTransformer is renamed:
//
//   torchvision VisionTransformer                         timm / ours
//   conv_proj.{weight,bias}                               patch_embed.proj.{weight,bias}
//   class_token                    (1, 1, D)              cls_token
//   encoder.pos_embedding          (1, T, D)              pos_embed
//   encoder.layers.encoder_layer_N.ln_1                   blocks.N.norm1
//     .self_attention.in_proj_{weight,bias} (3D, D)       blocks.N.attn.qkv   (rows q|k|v in both)
//     .self_attention.out_proj                            blocks.N.attn.proj
//     .ln_2                                               blocks.N.norm2
//     .mlp.0 | .mlp.linear_1                              blocks.N.mlp.fc1
//     .mlp.3 | .mlp.linear_2                              blocks.N.mlp.fc2
//   encoder.ln                                            norm
//   heads.head                                            head
#include <string>
#include <vector>

#include "import/state_dict.h"

namespace tinyvit::import {

// Removes leading "module." (DataParallel/DDP) and "model." (wrappers, EMA) prefixes, repeatedly.
std::string strip_prefixes(std::string name);

// torchvision ViT name -> timm name; names that are not torchvision ViT names come back unchanged.
std::string torchvision_vit_to_timm(const std::string& name);

// Strips prefixes and, for family "vit", renames torchvision ViT names to timm's. `notes` gets
// one line per kind of renaming done (for the import report).
StateDict canonicalize(const StateDict& sd, const std::string& family,
                       std::vector<std::string>* notes = nullptr);

}  // namespace tinyvit::import
