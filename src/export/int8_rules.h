#pragma once
// The int8 rules TFLite runtimes do NOT check (a file that breaks them loads and runs, with
// wrong numbers; ../shared/PRODUCT.md). check_int8_rules lists every violation in a model:
//   R1 SOFTMAX with an int8 output: scale 1/256, zero point -128
//   R2 FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D with int8 input: weight zero points 0,
//      int32 bias with scale[i] = input scale x weight scale[i] (relative 1e-6, as TFLite's
//      own Prepare tolerance for conv) and zero point 0
//   R3 CONCATENATION: every input has the output's scale and zero point
//   R4 RESHAPE / TRANSPOSE (and the other data-movement ops STRIDED_SLICE, GATHER, SQUEEZE,
//      PAD, MAX_POOL_2D): output quantization equals the input's
//   R5 operator codes: deprecated_builtin_code = min(code, 127), builtin_code = code
//   R6 every int8/uint8 tensor has quantization parameters with scale > 0 and an in-range
//      zero point; activations are per tensor
//   R7 RSQRT with int8 input: zero point -128 (TFLite errors at run time on negative reals)
#include <map>
#include <string>
#include <vector>

#include "export/tflite_reader.h"

namespace tinyvit::exporter {

std::vector<std::string> check_int8_rules(const tfl::ModelT& model);

// Operators whose inputs/outputs include a FLOAT32 tensor (other than QUANTIZE/DEQUANTIZE at
// the graph edges), by op name: empty for a fully integer graph.
std::map<std::string, int> float_ops(const tfl::ModelT& model);

}  // namespace tinyvit::exporter
