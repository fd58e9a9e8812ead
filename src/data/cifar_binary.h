#pragma once
// CIFAR-10 binary format: 3073-byte records = label byte + 1024 R + 1024 G + 1024 B (32x32,
// row-major planes). Torch-free.
#include <string>

#include "data/dataset.h"

namespace tinyvit::data {

constexpr int kCifarRecordBytes = 3073;

// A single .bin file, or a directory holding data_batch_1..5.bin. Class names come from
// batches.meta.txt next to the data when present, else the standard CIFAR-10 names.
// Images are resized to options.store_size when it is not 32.
ImageDataset load_cifar_binary(const std::string& path, const LoadOptions& options);

// True when `path` is a .bin file, or a directory containing data_batch_1.bin.
bool looks_like_cifar_binary(const std::string& path);

}  // namespace tinyvit::data
