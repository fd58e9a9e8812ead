#include <cstdarg>
#include <cstdio>

#include "model.h"

namespace tinyvit::rt {

const char* status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kMalformedModel: return "malformed model";
    case Status::kUnsupported: return "unsupported";
    case Status::kOutOfMemory: return "out of memory";
    case Status::kArenaTooSmall: return "arena too small";
  }
  return "unknown";
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
  }
  return "?";
}

std::size_t dtype_size(DType t) { return t == DType::kInt8 ? 1 : 4; }

Status fail(Model& m, Status s, const char* fmt, ...) {
  if (m.error) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(m.error, 256, fmt, ap);
    va_end(ap);
  }
  return s;
}

}  // namespace tinyvit::rt
