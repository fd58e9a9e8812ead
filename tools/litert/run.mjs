// Runs a .tflite file in LiteRT.js (the real TFLite runtime, compiled to wasm) on a batch of
// inputs, so that tinyvit-edge can compare its exports against a runtime it did not write.
//
//   node run.mjs MODEL.tflite INPUTS.bin OUTPUTS.bin
//
// INPUTS.bin : N samples back to back; one sample = every input of signature 0, in signature
//              order, each as raw little-endian bytes of its declared type and shape.
// OUTPUTS.bin: N samples back to back; one sample = every output of signature 0, likewise.
// stdout     : one JSON line {"samples", "inputs":[{name,type,shape,bytes}], "outputs":[...]}.
// Exit status 0 on success; on failure a message on stderr and status 1.
//
// Why the low-level API: LiteRT.js's high-level loadAndCompile/Tensor path rejects int8
// inputs, while loadModel -> compileModel('wasm') -> LiteRtTensorBuffer.createManaged ->
// compiledModel.run accepts every element type. Why the shim: the package loads its
// Emscripten glue with importScripts(), which exists in web workers but not in Node. Why the
// "compat" build: it is the non-threaded wasm without relaxed SIMD that runs on Node 20.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.join(here, 'node_modules', '@litertjs', 'core', 'wasm');
const glue = path.join(wasmDir, 'litert_wasm_compat_internal.js');

// LiteRT element types (litert::ElementType), as returned by getInputTensorType().
const ELEMENT = { 1: ['float32', 4], 2: ['int32', 4], 3: ['uint8', 1], 4: ['int64', 8],
                  7: ['int16', 2], 9: ['int8', 1] };

function fail(message) {
  process.stderr.write(`litert/run.mjs: ${message}\n`);
  process.exit(1);
}

async function loadRuntime() {
  if (!fs.existsSync(glue)) {
    fail(`LiteRT.js is not installed (${glue} missing): run scripts/install-deps.sh --test`);
  }
  // The shim: what a web worker would provide.
  globalThis.self = globalThis;
  // The Emscripten glue detects Node and then wants CommonJS globals.
  globalThis.require = createRequire(import.meta.url);
  globalThis.__dirname = wasmDir;
  globalThis.__filename = glue;
  globalThis.importScripts = (url) => {
    const file = url.startsWith('file:') ? fileURLToPath(url) : url;
    vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
  };
  // Emscripten locates the .wasm next to the glue; in Node we hand it the bytes directly.
  globalThis.Module = { wasmBinary: fs.readFileSync(glue.replace(/\.js$/, '.wasm')),
                        locateFile: (name) => path.join(wasmDir, name) };
  const core = await import('@litertjs/core');
  const liteRt = await core.loadLiteRt(glue);
  return { core, liteRt, wasm: liteRt.liteRtWasm };
}

function describe(type, name) {
  const et = type.elementType().value;
  if (!(et in ELEMENT)) fail(`tensor '${name}' has unsupported element type ${et}`);
  const dims = type.layout().dimensions();
  const shape = [];
  for (let i = 0; i < dims.size(); ++i) shape.push(dims.get(i));
  dims.delete();
  const [dtype, width] = ELEMENT[et];
  return { name, type: dtype, element: et, shape, bytes: type.bytes() || width };
}

async function main() {
  const [modelPath, inputsPath, outputsPath] = process.argv.slice(2);
  if (!outputsPath) fail('usage: node run.mjs MODEL.tflite INPUTS.bin OUTPUTS.bin');
  const modelBytes = new Uint8Array(fs.readFileSync(modelPath));
  const inputBytes = fs.readFileSync(inputsPath);

  const { liteRt, wasm } = await loadRuntime();
  const env = liteRt.getDefaultEnvironment().liteRtEnvironment;
  const ptr = wasm._malloc(modelBytes.byteLength);
  wasm.HEAPU8.set(modelBytes, ptr);
  const model = wasm.loadModel(env, ptr, modelBytes.byteLength);
  const compiled = await wasm.compileModel(env, model, {
    accelerator: 'wasm', cpuOptions: { numThreads: 1 }, gpuOptions: {}, webNNOptions: {} });

  const signature = model.getSignature(0);
  const inNames = signature.inputNames();
  const outNames = signature.outputNames();
  const inputs = [];
  const outputs = [];
  for (let i = 0; i < inNames.size(); ++i)
    inputs.push(describe(model.getInputTensorType(0, i), inNames.get(i)));
  for (let i = 0; i < outNames.size(); ++i)
    outputs.push(describe(model.getOutputTensorType(0, i), outNames.get(i)));
  const sampleIn = inputs.reduce((s, t) => s + t.bytes, 0);
  const sampleOut = outputs.reduce((s, t) => s + t.bytes, 0);
  if (sampleIn === 0 || inputBytes.length % sampleIn !== 0) {
    fail(`${inputsPath}: ${inputBytes.length} bytes is not a multiple of one sample ` +
         `(${sampleIn} bytes: ${inputs.map((t) => `${t.type}[${t.shape}]`).join(', ')})`);
  }
  const samples = inputBytes.length / sampleIn;

  // One managed host buffer per input, reused for every sample.
  const inBuffers = inputs.map((t, i) => {
    const type = model.getInputTensorType(0, i);
    const buffer = wasm.LiteRtTensorBuffer.createManaged(
      env, wasm.LiteRtTensorBufferType.HOST_MEMORY, type, t.bytes);
    type.delete();
    return buffer;
  });
  const result = Buffer.alloc(samples * sampleOut);
  let inOff = 0;
  let outOff = 0;
  for (let s = 0; s < samples; ++s) {
    inputs.forEach((t, i) => {
      const p = inBuffers[i].lock(wasm.LiteRtTensorBufferLockMode.WRITE);
      wasm.HEAPU8.set(inputBytes.subarray(inOff, inOff + t.bytes), p);
      inBuffers[i].unlock();
      inOff += t.bytes;
    });
    const outBuffers = await compiled.run(0, inBuffers);
    outputs.forEach((t, i) => {
      const p = outBuffers[i].lock(wasm.LiteRtTensorBufferLockMode.READ);
      result.set(wasm.HEAPU8.subarray(p, p + t.bytes), outOff);
      outBuffers[i].unlock();
      outBuffers[i].delete();
      outOff += t.bytes;
    });
  }
  fs.writeFileSync(outputsPath, result);
  const strip = ({ element, ...rest }) => rest;
  process.stdout.write(JSON.stringify({ samples, inputs: inputs.map(strip),
                                        outputs: outputs.map(strip) }) + '\n');
  inBuffers.forEach((b) => b.delete());
  compiled.delete();
  model.delete();
  wasm._free(ptr);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
