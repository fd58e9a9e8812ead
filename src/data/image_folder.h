#pragma once
// Image-folder datasets: a directory tree or a .tar / .tar.gz / .tgz archive of one. Torch-free.
#include <string>

#include "data/dataset.h"

namespace tinyvit::data {

// Directory: classes = the sorted names of root's immediate sub-folders; each class's images
// are found recursively below its folder. Files that are not .jpg/.jpeg/.png are ignored.
// An empty class folder is an error naming it.
ImageDataset load_image_directory(const std::string& root, const LoadOptions& options);

// Archive (streamed once with libarchive): class = name of the folder directly holding each
// image; classes sorted by name. An archive without images is an error naming it.
ImageDataset load_image_archive(const std::string& archive, const LoadOptions& options);

bool is_archive_path(const std::string& path);

}  // namespace tinyvit::data
