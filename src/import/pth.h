#pragma once
// PyTorch .pth / .pt files written by torch.save (the zip format, default since PyTorch 1.6).
//
// torch::pickle_load (LibTorch 1.13) cannot read the common files: a plain
// torch.save(model.state_dict()) holds a collections.OrderedDict, which its unpickler turns
// into None ("Expected GenericDict but got None"), and any dict with exactly one entry (e.g.
// {"model": state_dict}) is pickled with the SETITEM opcode, which it does not know ("Unknown
// opcode for unpickling at 0x73"). So data.pkl is read here by a small restricted unpickler
// (no code execution: only the globals a state dict needs are recognised, anything else becomes
// an opaque value) and the tensor storages come from LibTorch's zip reader.
//
// Accepted: a dict / OrderedDict of tensors (names -> tensors), optionally wrapped in a dict
// under "state_dict", "model_state_dict", "model", "module", "state_dict_ema" or "model_ema".
// Not accepted (clear tinyvit::Error with the fix): the legacy non-zip format
// (_use_new_zipfile_serialization=False, PyTorch < 1.6) and whole pickled nn.Module objects.
#include <functional>
#include <string>

#include "import/state_dict.h"

namespace tinyvit::import {

StateDict read_pth(const std::string& path);

// The part after the zip: `pkl` is data.pkl, `records(name)` returns the bytes of record
// "data/<key>" (a storage) or throws tinyvit::Error. Exposed for tests (fuzzing the unpickler).
using RecordReader = std::function<std::string(const std::string& name)>;
StateDict parse_state_dict_pickle(const std::string& pkl, const RecordReader& records,
                                  const std::string& what);

}  // namespace tinyvit::import
