#!/usr/bin/python3
"""Golden data for tests/import: torchvision models, their weights as files, and their logits.

Usage: /usr/bin/python3 make_reference.py OUT_DIR
       /usr/bin/python3 make_reference.py --check-resnet18 FILE.safetensors GOLDEN.safetensors
         (loads FILE, e.g. written by `tinyvit export-weights`, into torchvision resnet18 with
          strict=True and exits 0 iff the logits match golden "resnet18" within 1e-4 relative)

Writes (all seeded, so reruns are identical):
  resnet18.safetensors        torchvision resnet18 (ImageNet stem, 1000 classes), random weights
                              and randomised BatchNorm running stats, written by hand below
                              (struct + json + numpy: no safetensors package needed)
  resnet18.pth                torch.save(dict(state_dict)) with a "module." prefix (DataParallel)
  resnet18_ordereddict.pth    torch.save(state_dict): the plain OrderedDict form
  vit.safetensors             torchvision VisionTransformer with ViT-Tiny dims (224/16, 12 layers,
                              3 heads, dim 192, MLP 768, 1000 classes), torchvision names
  vit.pth                     torch.save({"model": dict(state_dict)}) (a wrapped checkpoint)
  dtypes.safetensors          F16 / BF16 / F64 / I32 tensors and their float32/int64 values
  small.pth                   a small OrderedDict (with _metadata) of views sharing a storage,
                              half / bfloat16 / double / int64 / 0-dim / empty tensors and an
                              nn.Parameter; small_expected.safetensors: the same, contiguous
  small_legacy.pth            torch.save(dict(...), _use_new_zipfile_serialization=False)
  golden.safetensors          "input" (2, 3, 224, 224) and logits "resnet18", "vit" (2, 1000)
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.int64: ("I64", np.int64),
    torch.int32: ("I32", np.int32),
}


def write_safetensors(path, tensors, metadata=None):
    """Plain-Python safetensors writer: u64 header length, JSON header, raw LE data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype in (torch.float16, torch.bfloat16):
            code = "F16" if t.dtype == torch.float16 else "BF16"
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            code, npt = DTYPES[t.dtype]
            raw = t.numpy().astype(np.dtype(npt).newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Plain-Python safetensors reader (F32/I64 are all our writer emits)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    codes = {"F32": "<f4", "I64": "<i8", "F64": "<f8", "I32": "<i4"}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        a = np.frombuffer(b[8 + n + s:8 + n + t], dtype=codes[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out


def check_resnet18(path, golden_path):
    model = torchvision.models.resnet18(num_classes=1000)
    model.load_state_dict(read_safetensors(path), strict=True)
    model.eval()
    g = read_safetensors(golden_path)
    with torch.no_grad():
        y = model(g["input"])
    err = ((y - g["resnet18"]).abs().max() / g["resnet18"].abs().max()).item()
    print(f"torchvision resnet18 from {path}: max rel logit error {err:.3g}")
    return 0 if err <= 1e-4 else 1


def randomize_(model):
    """Every parameter and BN statistic random (torchvision zero-inits the ViT head and class
    token, and fresh BN stats are 0/1 — a test with those would not catch mapping errors)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif name.endswith("weight"):  # norm scales
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
            elif name.endswith("num_batches_tracked"):
                b.fill_(1234)


def main():
    if sys.argv[1] == "--check-resnet18":
        sys.exit(check_resnet18(sys.argv[2], sys.argv[3]))
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)

    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    golden = {"input": x}

    resnet = torchvision.models.resnet18(num_classes=1000)
    randomize_(resnet)
    resnet.eval()
    sd = resnet.state_dict()
    write_safetensors(os.path.join(out, "resnet18.safetensors"), sd, {"format": "pt"})
    torch.save({"module." + k: v for k, v in sd.items()}, os.path.join(out, "resnet18.pth"))
    torch.save(sd, os.path.join(out, "resnet18_ordereddict.pth"))
    with torch.no_grad():
        golden["resnet18"] = resnet(x)

    vit = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=12,
                                               num_heads=3, hidden_dim=192, mlp_dim=768,
                                               num_classes=1000)
    randomize_(vit)
    vit.eval()
    sd = vit.state_dict()
    write_safetensors(os.path.join(out, "vit.safetensors"), sd)
    torch.save({"model": dict(sd)}, os.path.join(out, "vit.pth"))
    with torch.no_grad():
        golden["vit"] = vit(x)

    write_safetensors(os.path.join(out, "golden.safetensors"), golden)

    # Reduced-precision dtypes and the float32 values PyTorch converts them to.
    g = torch.Generator().manual_seed(3)
    v = torch.randn(64, generator=g) * 100
    v[:6] = torch.tensor([0.0, -0.0, 6e-8, -3e-5, 65504.0, 1e-40])  # zeros, fp16 subnormals, max
    f16, bf16 = v.half(), v.bfloat16()
    write_safetensors(os.path.join(out, "dtypes.safetensors"), {
        "f16": f16.reshape(8, 8), "f16_as_f32": f16.float().reshape(8, 8),
        "bf16": bf16, "bf16_as_f32": bf16.float(),
        "f64": v.double(), "f64_as_f32": v.double().float(),
        "i32": torch.arange(-5, 5, dtype=torch.int32),
    })

    # .pth corner cases: storage sharing, strides, offsets, dtypes, Parameter, OrderedDict.
    base = torch.randn(4, 6, generator=g)
    small = collections.OrderedDict()
    small["a.weight"] = base
    small["a.t"] = base.t()               # non-contiguous view of the same storage
    small["a.slice"] = base[1:3, 2:5]     # storage offset + strides
    small["h"] = torch.randn(5, generator=g).half()
    small["b"] = torch.randn(3, generator=g).bfloat16()
    small["d"] = torch.randn(2, 2, generator=g).double()
    small["n"] = torch.tensor(7)          # 0-dim int64
    small["p"] = torch.nn.Parameter(torch.randn(3, generator=g))
    small["empty"] = torch.zeros(0, 3)
    small._metadata = collections.OrderedDict({"": {"version": 1}})
    torch.save(small, os.path.join(out, "small.pth"))
    torch.save(dict(small), os.path.join(out, "small_legacy.pth"),
               _use_new_zipfile_serialization=False)
    write_safetensors(os.path.join(out, "small_expected.safetensors"), {
        k: (v.detach().float() if v.is_floating_point() else v).contiguous()
        for k, v in small.items()})


if __name__ == "__main__":
    main()
