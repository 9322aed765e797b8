#!/usr/bin/python3
"""PyTorch reference timings for GPT-2 124M on CPU (same math as tests/torch_ref/gpt2.py).

Run with the Debian torch:  /usr/bin/python3 bench/torch_gpt2.py --threads 1 --steps 3 --json

Configs:
  train_b4_t64    one training step at B=4, T=64:  zero_grad, forward, LM loss (labels =
                  inputs, HF shift), backward, torch.optim.AdamW step (lr 1e-4, wd 0.01)
  train_b8_t256   the same at B=8, T=256
  fwd_b1_t384     forward only under torch.no_grad() at B=1, T=384 (logits for all positions)

Each config does 1 untimed warm-up step, then --steps timed steps (time.perf_counter).
When several configs are requested each runs in its own child process, so that
peak_rss_mb (getrusage ru_maxrss of that process) belongs to that config alone.
Output: one line per config; with --json exactly one JSON object per line:
  {"config": ..., "threads": N, "median_s": ..., "times": [...], "peak_rss_mb": ...}
Weights are random (N(0, 0.02) matrices/embeddings, LayerNorm 1/0, zero biases); the
numbers depend on nothing else.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch_ref"))
import gpt2 as G  # noqa: E402

CONFIGS = {
    "train_b4_t64": ("train", 4, 64),
    "train_b8_t256": ("train", 8, 256),
    "fwd_b1_t384": ("fwd", 1, 384),
}


def build_model():
    torch.manual_seed(0)
    cfg = G.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    m = G.GPT2(cfg)
    with torch.no_grad():
        m.wte.weight.normal_(0.0, 0.02)
        m.wpe.weight.normal_(0.0, 0.01)
    return m


def run_config(name, steps):
    kind, B, T = CONFIGS[name]
    model = build_model()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.cfg.vocab_size, (B, T), generator=g)
    if kind == "train":
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

        def step():
            opt.zero_grad()
            out = model(input_ids=ids)
            loss = G.lm_loss(out.logits, ids)
            loss.backward()
            opt.step()
            return loss.item()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                out = model(input_ids=ids)
            return out.logits[0, -1, 0].item()

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return {"config": name, "threads": torch.get_num_threads(), "median_s": statistics.median(times),
            "times": times, "peak_rss_mb": round(rss_mb, 1)}


def emit(res, as_json):
    if as_json:
        print(json.dumps(res), flush=True)
    else:
        ts = " ".join(f"{t:.3f}" for t in res["times"])
        print(f"{res['config']:14s} threads={res['threads']} median={res['median_s']:.3f}s "
              f"times=[{ts}] peak_rss={res['peak_rss_mb']:.0f}MB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", default="train_b4_t64,train_b8_t256,fwd_b1_t384")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = [c for c in args.configs.split(",") if c]
    for c in names:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r} (known: {', '.join(CONFIGS)})")
    if args.steps < 1:
        ap.error("--steps must be >= 1")
    if len(names) == 1:
        torch.set_num_threads(args.threads)
        emit(run_config(names[0], args.steps), args.json)
        return
    rc = 0
    for c in names:  # one child process per config -> per-config peak RSS
        cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
               "--configs", c, "--steps", str(args.steps)] + (["--json"] if args.json else [])
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode != 0:
            print(f"config {c} failed with exit status {r.returncode}", file=sys.stderr)
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
