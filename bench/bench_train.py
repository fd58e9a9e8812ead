#!/usr/bin/env python3
"""Reference side of bench_train: the same models and training step in Python PyTorch.

Usage: /usr/bin/python3 bench/bench_train.py MODEL BATCH THREADS WARMUP STEPS
                                             [LAYOUT [MODE [PRECISION]]]
Prints one line: "<model> <images per second>". Models mirror src/models exactly:
resnet18_cifar (torchvision resnet18, 3x3/1 stem, no max-pool, SGD), cnn_fast_cifar /
cnn_fast_cifar_wide (whitening stem + 3 conv blocks, SGD), vit_micro_patch4_32 /
vit_tiny_patch4_32 (timm-style pre-norm ViT, AdamW), vit_micro_convtok_32 (the same ViT on a
convolutional tokenizer: conv3x3 + ReLU + 2x2 max pool at 32 and 64 channels, 1x1 projection).
LAYOUT: nchw | nhwc (channels-last) | auto (nhwc for resnet18_cifar, nchw otherwise).
MODE: train (the training step, default) | eval (forward under inference_mode in eval mode:
a distillation teacher's cost per batch).
PRECISION: fp32 (default) | bf16 (the forward under torch.autocast("cpu", torch.bfloat16), the loss
on float32 logits, as train/precision.h).
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class FastCnn(nn.Module):
    """models/cnn.cpp: 2x2 stem (fixed weight, trained bias), blocks conv-pool-BN-GELU-conv-BN-GELU."""

    def __init__(self, widths=(64, 256, 256), classes=10):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2)
        self.whiten.weight.requires_grad_(False)
        blocks, c = [], 24
        for w in widths:
            blocks.append(nn.Sequential(nn.Conv2d(c, w, 3, padding=1, bias=False), nn.MaxPool2d(2),
                                        nn.BatchNorm2d(w), nn.GELU(),
                                        nn.Conv2d(w, w, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(w), nn.GELU()))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, classes, bias=False)

    def forward(self, x):
        x = self.blocks(F.gelu(self.whiten(x)))
        return self.head(x.flatten(2).amax(2)) * 0.125


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # (B, T, D)
        B, T, D = x.shape
        # As models/vit.cpp: q, k, v are slices of the last dimension (timm permutes and unbinds).
        q, k, v = [t.reshape(B, T, self.heads, self.hd).transpose(1, 2)
                   for t in self.qkv(x).split(D, -1)]
        a = torch.softmax((q * self.hd ** -0.5) @ k.transpose(-2, -1), -1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, img=32, patch=4, dim=128, depth=6, heads=4, mlp=256, classes=10, stem=()):
        super().__init__()
        layers, c = [], 3
        for w in stem:
            layers += [nn.Conv2d(c, w, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2)]
            c, img = w, img // 2
        self.stem = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c, dim, patch, patch)
        n = (img // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.proj(self.stem(x)).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0])


def main():
    name, batch, threads, warmup, steps = sys.argv[1], *map(int, sys.argv[2:6])
    layout = sys.argv[6] if len(sys.argv) > 6 else "auto"
    mode = sys.argv[7] if len(sys.argv) > 7 else "train"
    bf16 = len(sys.argv) > 8 and sys.argv[8] == "bf16"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if name == "resnet18_cifar":
        m = torchvision.models.resnet18(num_classes=10)
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    elif name in ("cnn_fast_cifar", "cnn_fast_cifar_wide"):
        m = FastCnn() if name == "cnn_fast_cifar" else FastCnn(widths=(128, 384, 384))
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.05, momentum=0.9,
                              nesterov=True, weight_decay=5e-4)
    elif name == "vit_micro_patch4_32":
        m = ViT()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    elif name == "vit_micro_convtok_32":
        m = ViT(patch=1, stem=(32, 64))
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    elif name == "vit_tiny_patch4_32":
        m = ViT(dim=192, depth=12, heads=3, mlp=768)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    else:
        raise SystemExit(f"unknown model {name}")
    channels_last = layout == "nhwc" or (layout == "auto" and name == "resnet18_cifar")
    x = torch.randn(batch, 3, 32, 32)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    if mode == "eval":
        m.eval()
        with torch.inference_mode():
            for i in range(warmup + steps):
                if i == warmup:
                    t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    m(x)
    else:
        m.train()
        for i in range(warmup + steps):
            if i == warmup:
                t0 = time.perf_counter()
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = m(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
    print(name, batch * steps / (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
