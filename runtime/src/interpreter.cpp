#include <cstring>
#include <new>

#include "kernels/kernel.h"
#include "model.h"

namespace tinyvit::rt {

Interpreter::Interpreter() : m_(new (std::nothrow) Model()) {
  if (m_) m_->error = error_;
}

Interpreter::~Interpreter() {
  if (m_) free_model(*m_);
  delete m_;
}

Status Interpreter::load(const void* model, std::size_t size, const LoadOptions& options) {
  if (!m_) return Status::kOutOfMemory;
  free_model(*m_);
  error_[0] = '\0';
  m_->kernels = options.kernels;
  m_->arithmetic = options.arithmetic;
  Status s = load_model(*m_, model, size);
  if (s == Status::kOk) s = plan_arena(*m_);
  if (s != Status::kOk) {
    char tmp[256];
    std::memcpy(tmp, error_, sizeof(tmp));
    free_model(*m_);
    std::memcpy(error_, tmp, sizeof(tmp));
  }
  return s;
}

std::size_t Interpreter::arena_bytes_needed() const { return m_ ? m_->arena_needed : 0; }
std::size_t Interpreter::activation_bytes_total() const { return m_ ? m_->activation_total : 0; }

Status Interpreter::allocate(void* arena, std::size_t bytes) {
  if (!m_ || !m_->tensors) return fail(*m_, Status::kInvalidArgument, "allocate() before load()");
  if (!arena && m_->arena_needed > 0)
    return fail(*m_, Status::kInvalidArgument, "allocate(): null arena");
  if (reinterpret_cast<uintptr_t>(arena) % kArenaAlignment != 0)
    return fail(*m_, Status::kArenaTooSmall, "allocate(): the arena must be %zu-byte aligned",
                kArenaAlignment);
  if (bytes < m_->arena_needed)
    return fail(*m_, Status::kArenaTooSmall, "allocate(): %zu bytes, the plan needs %zu", bytes,
                m_->arena_needed);
  m_->arena = static_cast<uint8_t*>(arena);
  for (int i = 0; i < m_->num_tensors; ++i) {
    Tensor& t = m_->tensors[i];
    if (t.arena_offset >= 0) t.data = m_->arena + t.arena_offset;
  }
  m_->allocated = true;
  return Status::kOk;
}

Status Interpreter::invoke() {
  if (!m_ || !m_->allocated)
    return fail(*m_, Status::kInvalidArgument, "invoke() before a successful allocate()");
  for (int i = 0; i < m_->num_ops; ++i) {
    OpContext ctx{*m_, m_->ops[i]};
    m_->ops[i].eval(ctx);
  }
  return Status::kOk;
}

void Interpreter::invoke_op(int i) {
  if (!m_ || !m_->allocated || i < 0 || i >= m_->num_ops) return;
  OpContext ctx{*m_, m_->ops[i]};
  m_->ops[i].eval(ctx);
}

int Interpreter::num_inputs() const { return m_ ? m_->num_inputs : 0; }
int Interpreter::num_outputs() const { return m_ ? m_->num_outputs : 0; }
int Interpreter::num_tensors() const { return m_ ? m_->num_tensors : 0; }
int Interpreter::num_ops() const { return m_ ? m_->num_ops : 0; }

TensorView Interpreter::tensor(int i) const {
  TensorView v;
  if (!m_ || i < 0 || i >= m_->num_tensors) return v;
  const Tensor& t = m_->tensors[i];
  v.type = t.type;
  v.rank = t.rank;
  for (int d = 0; d < t.rank; ++d) v.dims[d] = t.dims[d];
  v.data = t.data;
  v.bytes = t.bytes;
  v.scale = t.scale;
  v.zero_point = t.zero_point;
  v.name = t.name;
  v.arena_offset = t.arena_offset;
  v.first_op = t.first_use;
  v.last_op = t.last_use;
  return v;
}

TensorView Interpreter::input(int i) const {
  return (m_ && i >= 0 && i < m_->num_inputs) ? tensor(m_->inputs[i]) : TensorView{};
}
TensorView Interpreter::output(int i) const {
  return (m_ && i >= 0 && i < m_->num_outputs) ? tensor(m_->outputs[i]) : TensorView{};
}

const char* Interpreter::op_name(int i) const {
  return (m_ && i >= 0 && i < m_->num_ops) ? builtin_name(m_->ops[i].code) : "";
}
const char* Interpreter::op_kernel(int i) const {
  return (m_ && i >= 0 && i < m_->num_ops) ? m_->ops[i].kernel : "";
}
const char* Interpreter::error() const { return error_; }

}  // namespace tinyvit::rt
