#pragma once
// Atomic file replacement: write to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the
// directory. A reader (or a resumed run after kill -9) sees the old file or the new one, never
// half of one.
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

namespace tinyvit {

// Calls write(os) on a temporary file next to `path`, then renames it into place.
// Throws tinyvit::Error (and removes the temporary) if writing fails.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_bytes_atomic(const std::string& path, const void* data, std::size_t size);
void write_text_atomic(const std::string& path, const std::string& text);

// Whole file into memory; throws tinyvit::Error naming the path if it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace tinyvit
