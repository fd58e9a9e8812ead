#!/usr/bin/env python3
"""Markdown table from the <out>.prune.json reports of bench/bench_prune.sh.

    bench/bench_prune_table.py OUTDIR [LATENCY.json]

LATENCY.json (optional): {"<tag>": latency_ms, ...} measured separately on an idle(r) CPU;
otherwise the reports' min latency is used.
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
lat = json.loads(pathlib.Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else {}


def widths(cfg):
    v = cfg["vit"]
    h = v.get("block_heads") or [v["num_heads"]] * v["depth"]
    m = v.get("block_mlp") or [int(v["mlp_ratio"] * v["embed_dim"])] * v["depth"]
    return f'{v["depth"]} blocks, heads {"/".join(map(str, h))}, MLP {"/".join(map(str, m))}'


def pct(x):
    return "–" if x is None or x < 0 else f"{100 * x:.1f}%"


rows = []
for f in sorted(out.glob("*.prune.json")):
    tag = f.name[: -len(".prune.json")]
    r = json.loads(f.read_text())["models"]
    orig, last = r[0], r[-1]
    before = next((m for m in r if "before recovery" in m["what"]), r[1] if len(r) > 1 else last)
    rows.append((tag, last, orig, before))

base_macs = rows[0][2]["macs"] if rows else 1
print("| model | config | params | MACs | int8 weights | latency (ms) | val acc after pruning | val acc after recovery |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for tag, last, orig, before in rows:
    recovered = "after recovery" in last["what"]
    l = lat.get(tag, last.get("latency_min_ms", 0))
    print(f'| {tag} | {widths(last["config"])} | {last["params"] / 1e6:.3f} M | '
          f'{last["macs"] / 1e6:.1f} M ({100 * last["macs"] / orig["macs"]:.0f}%) | '
          f'{last["int8_weight_bytes"] / 1024:.0f} KiB | {l:.2f} | {pct(before["val_accuracy"])} | '
          f'{pct(last["val_accuracy"]) if recovered else "–"} |')
if rows:
    print(f'\nunpruned student: {rows[0][2]["params"] / 1e6:.3f} M params, '
          f'{rows[0][2]["macs"] / 1e6:.1f} M MACs, val acc {pct(rows[0][2]["val_accuracy"])}')
