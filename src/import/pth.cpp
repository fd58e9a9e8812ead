#include "import/pth.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "common/error.h"

namespace tinyvit::import {
namespace {

// ---- a restricted pickle VM (protocols 2-5, the opcodes torch.save emits) ---------------------

struct PyObj;
using Val = std::shared_ptr<PyObj>;

struct PyObj {
  enum Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Tensor, Object };
  Kind kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s;                           // Str, Bytes, Global ("module.name")
  std::vector<Val> items;                  // Tuple, List
  std::vector<std::pair<Val, Val>> dict;   // Dict (insertion order)
  torch::Tensor tensor;                    // Tensor (also untyped storages: 1-D)
};

Val make(PyObj::Kind k) {
  auto v = std::make_shared<PyObj>();
  v->kind = k;
  return v;
}

// Legacy typed storage class -> element type.
bool storage_dtype(const std::string& global, c10::ScalarType& out) {
  static const std::map<std::string, c10::ScalarType> m = {
      {"torch.FloatStorage", c10::kFloat},   {"torch.DoubleStorage", c10::kDouble},
      {"torch.HalfStorage", c10::kHalf},     {"torch.BFloat16Storage", c10::kBFloat16},
      {"torch.LongStorage", c10::kLong},     {"torch.IntStorage", c10::kInt},
      {"torch.ShortStorage", c10::kShort},   {"torch.CharStorage", c10::kChar},
      {"torch.ByteStorage", c10::kByte},     {"torch.BoolStorage", c10::kBool},
  };
  auto it = m.find(global);
  if (it == m.end()) return false;
  out = it->second;
  return true;
}

class Unpickler {
 public:
  Unpickler(const char* data, std::size_t size, const RecordReader& records, std::string what)
      : p_(data), end_(data + size), records_(records), what_(std::move(what)) {}

  Val run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                              // PROTO
        case 0x95: bytes(8); break;                          // FRAME (length; ignored)
        case '.': return pop();                              // STOP
        case '(': marks_.push_back(stack_.size()); break;    // MARK
        case 'N': push(make(PyObj::None)); break;
        case 0x88: case 0x89: {                              // NEWTRUE / NEWFALSE
          auto v = make(PyObj::Bool);
          v->i = op == 0x88;
          push(v);
          break;
        }
        case 'K': push_int(u8()); break;                     // BININT1
        case 'M': push_int(uint_le(2)); break;               // BININT2
        case 'J': push_int(static_cast<int32_t>(uint_le(4))); break;  // BININT
        case 0x8a: {                                         // LONG1
          const std::size_t n = u8();
          if (n > 8) fail("integer wider than 64 bits");
          uint64_t u = uint_le(n);
          if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ull << (8 * n);  // sign-extend
          push_int(static_cast<int64_t>(u));
          break;
        }
        case 'G': {                                          // BINFLOAT (big-endian double)
          uint64_t u = 0;
          for (int k = 0; k < 8; ++k) u = u << 8 | u8();
          auto v = make(PyObj::Float);
          std::memcpy(&v->f, &u, 8);
          push(v);
          break;
        }
        case 'X': push_str(PyObj::Str, uint_le(4)); break;   // BINUNICODE
        case 0x8c: push_str(PyObj::Str, u8()); break;        // SHORT_BINUNICODE
        case 0x8d: push_str(PyObj::Str, uint_le(8)); break;  // BINUNICODE8
        case 'T': push_str(PyObj::Bytes, uint_le(4)); break; // BINSTRING
        case 'U': push_str(PyObj::Bytes, u8()); break;       // SHORT_BINSTRING
        case 'B': push_str(PyObj::Bytes, uint_le(4)); break; // BINBYTES
        case 'C': push_str(PyObj::Bytes, u8()); break;       // SHORT_BINBYTES
        case ')': push(make(PyObj::Tuple)); break;           // EMPTY_TUPLE
        case ']': push(make(PyObj::List)); break;            // EMPTY_LIST
        case '}': push(make(PyObj::Dict)); break;            // EMPTY_DICT
        case 't': {                                          // TUPLE
          auto v = make(PyObj::Tuple);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {                   // TUPLE1..3
          auto v = make(PyObj::Tuple);
          v->items.resize(op - 0x84);
          for (auto k = v->items.size(); k-- > 0;) v->items[k] = pop();
          push(v);
          break;
        }
        case 'a': {                                          // APPEND
          auto x = pop();
          list_at_top()->items.push_back(x);
          break;
        }
        case 'e': {                                          // APPENDS
          auto xs = pop_mark();
          auto l = list_at_top();
          l->items.insert(l->items.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {                                          // SETITEM
          auto v = pop();
          auto k = pop();
          dict_at_top()->dict.emplace_back(k, v);
          break;
        }
        case 'u': {                                          // SETITEMS
          auto xs = pop_mark();
          if (xs.size() % 2) fail("SETITEMS with an odd number of items");
          auto d = dict_at_top();
          for (std::size_t k = 0; k < xs.size(); k += 2) d->dict.emplace_back(xs[k], xs[k + 1]);
          break;
        }
        case 'q': memo_[u8()] = top(); break;                // BINPUT
        case 'r': memo_[uint_le(4)] = top(); break;          // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;       // MEMOIZE
        case 'h': push(memo(u8())); break;                   // BINGET
        case 'j': push(memo(uint_le(4))); break;             // LONG_BINGET
        case 'c': {                                          // GLOBAL "module\nname\n"
          auto v = make(PyObj::Global);
          v->s = line();
          v->s += "." + line();
          push(v);
          break;
        }
        case 0x93: {                                         // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (name->kind != PyObj::Str || module->kind != PyObj::Str) fail("bad STACK_GLOBAL");
          auto v = make(PyObj::Global);
          v->s = module->s + "." + name->s;
          push(v);
          break;
        }
        case 'Q': push(persistent_load(pop())); break;       // BINPERSID
        case 'R': {                                          // REDUCE
          auto args = pop();
          auto fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {                                         // NEWOBJ
          pop();
          pop();
          push(make(PyObj::Object));
          break;
        }
        case 'b': pop(); break;  // BUILD: state (e.g. an OrderedDict's _metadata) is not needed
        default:
          fail("unsupported pickle opcode 0x" + hex(op) +
               " (not a state dict saved by torch.save?)");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("'" + what_ + "': cannot read the pickled data: " + why);
  }
  static std::string hex(unsigned v) {
    const char* d = "0123456789abcdef";
    return std::string{d[(v >> 4) & 15], d[v & 15]};
  }
  uint8_t u8() {
    if (p_ >= end_) fail("unexpected end of data.pkl (truncated file)");
    return static_cast<uint8_t>(*p_++);
  }
  const char* bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("unexpected end of data.pkl (truncated file)");
    const char* b = p_;
    p_ += n;
    return b;
  }
  uint64_t uint_le(std::size_t n) {
    const char* b = bytes(n);
    uint64_t v = 0;
    for (std::size_t k = n; k-- > 0;) v = v << 8 | static_cast<uint8_t>(b[k]);
    return v;
  }
  std::string line() {
    const char* b = p_;
    while (p_ < end_ && *p_ != '\n') ++p_;
    if (p_ >= end_) fail("unterminated GLOBAL");
    return std::string(b, p_++);
  }
  void push(Val v) {
    if (stack_.size() > (1u << 24)) fail("stack too deep");
    stack_.push_back(std::move(v));
  }
  void push_int(int64_t i) {
    auto v = make(PyObj::Int);
    v->i = i;
    push(v);
  }
  void push_str(PyObj::Kind k, uint64_t n) {
    auto v = make(k);
    const char* b = bytes(n);
    v->s.assign(b, n);
    push(v);
  }
  Val pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      fail("stack underflow");
    Val v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Val top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Val> pop_mark() {
    if (marks_.empty()) fail("missing MARK");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("bad MARK");
    std::vector<Val> xs(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return xs;
  }
  Val memo(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo entry " + std::to_string(k) + " used before it was set");
    return it->second;
  }
  PyObj* dict_at_top() {
    Val t = top();
    if (t->kind != PyObj::Dict) fail("SETITEM(S) on something that is not a dict");
    return t.get();
  }
  PyObj* list_at_top() {
    Val t = top();
    if (t->kind != PyObj::List) fail("APPEND(S) on something that is not a list");
    return t.get();
  }
  std::vector<int64_t> ints(const Val& v, const char* what) {
    if (v->kind != PyObj::Tuple) fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      if (x->kind != PyObj::Int) fail(std::string(what) + " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  // ('storage', <storage class>, key, location, numel) -> 1-D tensor over data/<key>.
  Val persistent_load(const Val& pid) {
    if (pid->kind != PyObj::Tuple || pid->items.size() < 5 || pid->items[0]->kind != PyObj::Str ||
        pid->items[0]->s != "storage" || pid->items[1]->kind != PyObj::Global ||
        pid->items[2]->kind != PyObj::Str)
      fail("unknown persistent id (expected a tensor storage)");
    c10::ScalarType dt;
    if (!storage_dtype(pid->items[1]->s, dt))
      fail("unsupported storage type " + pid->items[1]->s);
    const std::string key = pid->items[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const std::string record = "data/" + key;
    const std::string bytes = records_(record);
    const std::size_t el = c10::elementSize(dt);
    if (bytes.size() % el) fail("storage " + key + " size is not a multiple of its element size");
    auto t = torch::empty({static_cast<int64_t>(bytes.size() / el)},
                          torch::TensorOptions().dtype(dt));
    if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    auto v = make(PyObj::Tensor);
    v->tensor = t;
    storages_[key] = v;
    return v;
  }

  Val reduce(const Val& fn, const Val& args) {
    if (fn->kind != PyObj::Global || args->kind != PyObj::Tuple) return make(PyObj::Object);
    const std::string& g = fn->s;
    const auto& a = args->items;
    if (g == "collections.OrderedDict") {
      auto d = make(PyObj::Dict);
      if (!a.empty() && a[0]->kind == PyObj::List)  // OrderedDict([(k, v), ...])
        for (const auto& kv : a[0]->items)
          if (kv->kind == PyObj::Tuple && kv->items.size() == 2)
            d->dict.emplace_back(kv->items[0], kv->items[1]);
      return d;
    }
    if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
      // (storage, storage_offset, size, stride, ...)
      if (a.size() < 4 || a[0]->kind != PyObj::Tensor || a[1]->kind != PyObj::Int)
        fail("bad arguments to " + g);
      const auto& storage = a[0]->tensor;
      const int64_t offset = a[1]->i;
      const auto size = ints(a[2], "tensor size"), stride = ints(a[3], "tensor stride");
      if (size.size() != stride.size()) fail("tensor size and stride differ in length");
      // Highest element index touched must lie inside the storage.
      int64_t last = offset;
      bool empty = false;
      for (std::size_t k = 0; k < size.size(); ++k) {
        if (size[k] < 0 || stride[k] < 0) fail("negative tensor size or stride");
        if (size[k] == 0) empty = true;
        else if (__builtin_mul_overflow(size[k] - 1, stride[k], &size_tmp_) ||
                 __builtin_add_overflow(last, size_tmp_, &last))
          fail("tensor extent overflows");
      }
      if (offset < 0 || (!empty && last >= storage.numel()))
        fail("tensor reaches past its storage (corrupt file)");
      auto v = make(PyObj::Tensor);
      v->tensor = empty ? torch::empty(size, storage.options())
                        : storage.as_strided(size, stride, offset).clone();
      return v;
    }
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != PyObj::Tensor) fail("bad arguments to " + g);
      return a[0];
    }
    return make(PyObj::Object);  // anything else is kept opaque and never called
  }

  const char* p_;
  const char* end_;
  const RecordReader& records_;
  std::string what_;
  std::vector<Val> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, Val> memo_;
  std::map<std::string, Val> storages_;
  int64_t size_tmp_ = 0;
};

// name -> tensor entries of a dict (non-string keys / non-tensor values are skipped).
StateDict tensors_of(const PyObj& d) {
  StateDict sd;
  for (const auto& [k, v] : d.dict)
    if (k->kind == PyObj::Str && v->kind == PyObj::Tensor) sd.emplace_back(k->s, v->tensor);
  return sd;
}

const char* kResave =
    "; re-save it in Python with torch.save(dict(model.state_dict()), 'file.pth') "
    "(PyTorch >= 1.6), or better as safetensors (docs/pretrained.md)";

}  // namespace

StateDict parse_state_dict_pickle(const std::string& pkl, const RecordReader& records,
                                  const std::string& what) {
  Val root;
  try {
    root = Unpickler(pkl.data(), pkl.size(), records, what).run();
  } catch (const c10::Error& e) {
    throw Error("'" + what + "': " + e.what_without_backtrace());
  }
  if (root->kind != PyObj::Dict)
    throw Error("'" + what + "' does not hold a dict of tensors (a whole pickled nn.Module?)" +
                kResave);
  StateDict sd = tensors_of(*root);
  if (!sd.empty()) return sd;
  for (const char* wrap :
       {"state_dict", "model_state_dict", "model", "module", "state_dict_ema", "model_ema"}) {
    for (const auto& [k, v] : root->dict) {
      if (k->kind != PyObj::Str || k->s != wrap || v->kind != PyObj::Dict) continue;
      sd = tensors_of(*v);
      if (!sd.empty()) return sd;
    }
  }
  std::string keys;
  for (const auto& [k, v] : root->dict)
    if (k->kind == PyObj::Str) keys += (keys.empty() ? "" : ", ") + k->s;
  throw Error("'" + what + "' holds a dict without tensors (top-level keys: " + keys +
              "); expected a state dict, possibly under 'state_dict' or 'model'");
}

StateDict read_pth(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw Error("'" + path + "' is not a zip-format PyTorch file (legacy torch.save format, " +
                "truncated, or not a .pth at all: " + e.what_without_backtrace() + ")" + kResave);
  }
  // Records are read (and CRC-checked by the zip reader) on demand.
  const RecordReader records = [&](const std::string& name) {
    try {
      if (!zip->hasRecord(name))
        throw Error("'" + path + "' has no record " + name + " (truncated file?)" + kResave);
      auto [ptr, size] = zip->getRecord(name);
      return std::string(static_cast<const char*>(ptr.get()), size);
    } catch (const c10::Error& e) {
      throw Error("'" + path + "': " + e.what_without_backtrace() + kResave);
    }
  };
  return parse_state_dict_pickle(records("data.pkl"), records, path);
}

}  // namespace tinyvit::import
