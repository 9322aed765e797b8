#!/usr/bin/python3
"""PyTorch side of bench_small: Coconut training and evaluation of small GPT-2s on CPU.

Run with the Debian torch (not a pyenv python):
  /usr/bin/python3 bench/torch_small.py [--L 2] [--d 256] [--H 8] [--V 40] [--B 128] [--T 80]
      [--N 4] [--threads 1] [--steps 5] [--eval-questions 500] [--answer-len 10]
      [--eval-batch 64] [--mode {train,plain,eval_official,eval_batched,all}] [--json]
      [--selfcheck] [--info]

The model is tests/torch_ref/gpt2.py (HF-exact GPT-2: pre-LN, GELU tanh, LayerNorm eps
1e-5, tied LM head, causal attention scaled by 1/sqrt(head_dim)) with n_layer=L,
n_embd=d, n_head=H, vocab V, n_positions=max(256, T+16), dropout 0, fp32, random weights
(torch.manual_seed(0); matrices N(0, 0.02), wte N(0, 0.02), wpe N(0, 0.01), LayerNorm
1/0, zero biases). Its forward already takes inputs_embeds and past_key_values, which
is all the multi-pass Coconut step needs.

Tokens (no randomness): the last three ids are START=V-3 (<bot>), END=V-2 (<eot>),
LAT=V-1 (<latent>); s = max(2, T-N-30); row b, column t holds
(b*7919 + t*104729) % (V-3), except START at s-1, LAT at s..s+N-1, END at s+N.
Labels are -100 up to and including column s+N, the token itself after; the loss is
HF's shifted mean cross-entropy. Position ids 0..T-1, no padding.

Modes:
  train          the Coconut step as the official code (facebookresearch/coconut,
                 coconut.py) structures it: zero_grad; inputs_embeds = wte(ids); pass 0
                 over columns [0, s) with a KV cache; then one single-column pass per
                 latent, whose input embedding is the last hidden state (after ln_f) of
                 the previous pass, extending the cache; the last latent's column is
                 computed by the final pass over [s+N-1, T) -- N+1 passes in all, as
                 in the official forward. Gradients flow through every pass, the fed-back
                 hidden states and the cache. Logits of all passes are concatenated;
                 loss; backward; torch.optim.AdamW(lr=1e-4, weight_decay=0.01).step().
  plain          the same tokens in one pass (latent ids as ordinary tokens), same loss,
                 backward, AdamW step.
  eval_official  the official Coconut generate() at batch 1: prompt = the first s
                 columns of a row (ending in START) + N latents + END, run through the
                 multi-pass forward (no grad); the first answer token is the argmax of
                 its last logits; each of the other A-1 tokens re-runs the model over the
                 FULL sequence of input embeddings without a KV cache. Exactly A tokens
                 (no eos in this vocabulary). Seconds per question.
  eval_batched   the fast PyTorch loop: --eval-batch prompts at once, thoughts with the
                 KV cache, END, then A greedy tokens with the KV cache, no_grad.
                 Seconds per question.
  all            each of the four in its own child process (peak RSS per mode).

Timing: train/plain do 1 untimed warm-up step, then --steps timed steps
(time.perf_counter); median_s is the median. eval_official does 1 untimed warm-up
question, then times each of the Q questions (times = per-question seconds); eval_batched
does 1 untimed warm-up batch, then times each batch of the Q questions (times = batch
seconds / batch size). median_s is the median of times; total_s / mean_s are also given.
Threads: torch.set_num_threads(--threads) and, when torch's BLAS is OpenBLAS,
openblas_set_num_threads(--threads) (torch does not set OpenBLAS's own pool).
Kernels: Debian's torch calls the system libblas.so.3 (BLAS_INFO=generic), normally
OpenBLAS 0.3.21 with DYNAMIC_ARCH, which picks its kernels from the CPU model. On a CPU
it does not know (e.g. a recent Xeon under KVM) it falls back to Prescott (SSE3)
kernels, several times slower; the "blas" field shows the corename, and
OPENBLAS_CORETYPE=Cooperlake / SkylakeX / Haswell in the environment (inherited by the
per-mode children) forces a kernel set.

Output: one line per mode; with --json exactly one JSON object per line:
  {"mode", "L", "d", "H", "V", "B", "T", "N", "threads", "median_s", "times", "blas",
   "peak_rss_mb"} plus "loss" (first step, before any update) and "passes" for
  train/plain, and "questions", "answer_len", "eval_batch", "total_s", "mean_s",
  "passes" (forward calls per question / per batch) for the eval modes.
"blas" names the BLAS library torch loaded (from /proc/self/maps), OpenBLAS's
openblas_get_config() / openblas_get_corename() / thread count when it is OpenBLAS, and
torch's BLAS_INFO and ATen CPU capability. --info prints torch.__config__.show() and
torch.__config__.parallel_info() in full. --selfcheck checks the step (finite loss near
ln V; the multi-pass forward equals a single pass over the filled-in embeddings; the
gradient reaches wte through the fed-back hidden states; batched and official greedy
decoding agree) and exits non-zero on failure.
"""
import argparse
import ctypes
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch_ref"))
import gpt2 as G  # noqa: E402

MODES = ("train", "plain", "eval_official", "eval_batched")


# ---------------------------------------------------------------- BLAS identification

def _loaded_libs():
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()
                if len(p) >= 6 and p[-1].startswith("/") and p[-1] not in paths:
                    paths.append(p[-1])
    except OSError:
        pass
    return paths


def _openblas_handle():
    for p in _loaded_libs():
        if "openblas" in os.path.basename(p).lower():
            try:
                return p, ctypes.CDLL(p)  # already loaded: same handle, no second copy
            except OSError:
                pass
    return None, None


def set_blas_threads(n):
    _, lib = _openblas_handle()
    if lib is not None and hasattr(lib, "openblas_set_num_threads"):
        lib.openblas_set_num_threads(ctypes.c_int(n))


def blas_info():
    """One line: which BLAS torch uses and its kernels."""
    parts = []
    path, lib = _openblas_handle()
    if lib is not None:
        def cstr(name):
            fn = getattr(lib, name, None)
            if fn is None:
                return "?"
            fn.restype = ctypes.c_char_p
            v = fn()
            return v.decode(errors="replace").strip() if v else "?"

        def cint(name):
            fn = getattr(lib, name, None)
            if fn is None:
                return None
            fn.restype = ctypes.c_int
            return fn()

        par = {0: "sequential", 1: "pthread", 2: "openmp"}.get(cint("openblas_get_parallel"), "?")
        forced = os.environ.get("OPENBLAS_CORETYPE")
        parts.append(f"{cstr('openblas_get_config')}; corename={cstr('openblas_get_corename')} "
                     f"(OPENBLAS_CORETYPE={'unset' if forced is None else repr(forced)}); "
                     f"openblas_threads={cint('openblas_get_num_threads')} ({par}); lib={path}")
    else:
        others = [p for p in _loaded_libs()
                  if re.search(r"lib(blas|blis|mkl|cblas|flexiblas|atlas)", os.path.basename(p))]
        parts.append("BLAS libs: " + (", ".join(others) if others else "none found in /proc/self/maps"))
    show = torch.__config__.show()
    bi = re.search(r"BLAS_INFO=([^,\s]+)", show)
    cap = re.search(r"CPU capability usage: (\S+)", show)
    dnn = re.search(r"MKL-DNN (v[\d.]+)", show)
    parts.append(f"torch {torch.__version__} BLAS_INFO={bi.group(1) if bi else '?'} "
                 f"ATen CPU capability={cap.group(1) if cap else '?'}"
                 f"{' oneDNN ' + dnn.group(1) if dnn else ''} torch_threads={torch.get_num_threads()}")
    return "; ".join(parts)


# ---------------------------------------------------------------- model and data

def first_latent(T, N):
    return max(2, T - N - 30)


def build_model(a):
    torch.manual_seed(0)
    s = first_latent(a.T, a.N)
    npos = max(256, a.T + 16, s + a.N + a.answer_len + 1)
    cfg = G.GPT2Config(vocab_size=a.V, n_positions=npos, n_embd=a.d, n_layer=a.L, n_head=a.H,
                       embd_pdrop=0.0, attn_pdrop=0.0, resid_pdrop=0.0)
    m = G.GPT2(cfg)
    with torch.no_grad():
        m.wte.weight.normal_(0.0, 0.02)
        m.wpe.weight.normal_(0.0, 0.01)
    return m


def make_batch(rows, T, N, V):
    """ids [rows,T] int64 and labels [rows,T] in the shared layout."""
    START, END, LAT = V - 3, V - 2, V - 1
    s = first_latent(T, N)
    b = torch.arange(rows, dtype=torch.int64)[:, None]
    t = torch.arange(T, dtype=torch.int64)[None, :]
    ids = (b * 7919 + t * 104729) % (V - 3)
    ids[:, s - 1] = START
    ids[:, s:s + N] = LAT
    ids[:, s + N] = END
    labels = ids.clone()
    labels[:, :s + N + 1] = -100
    return ids, labels


def coconut_forward(model, embeds, s, N, detach_feedback=False, fed_out=None):
    """The official multi-pass structure over inputs_embeds [B,T,d] whose latent columns
    are s..s+N-1: pass 0 over [0,s); passes 1..N-1 over one column each (latent k-1's
    column, fed the last hidden state of the previous pass); the final pass over
    [s+N-1, T) (last latent, fed likewise, then the ordinary columns). Each pass extends
    the KV cache of the previous ones. Returns (logits [B,T,V], cache).
    fed_out, if a list, receives the fed-back hidden states (for the self-check)."""
    if N == 0:
        out = model(inputs_embeds=embeds)
        return out.logits, out.past_key_values
    logits = []
    out = model(inputs_embeds=embeds[:, :s])
    for k in range(N):
        logits.append(out.logits)
        h = out.hidden[:, -1:, :]  # last column's hidden state after ln_f
        if detach_feedback:
            h = h.detach()
        if fed_out is not None:
            fed_out.append(h)
        x = h if k < N - 1 else torch.cat((h, embeds[:, s + N:]), dim=1)
        out = model(inputs_embeds=x, past_key_values=out.past_key_values)
    logits.append(out.logits)
    return torch.cat(logits, dim=1), out.past_key_values


# ---------------------------------------------------------------- modes

def make_train_step(a, model, coconut):
    ids, labels = make_batch(a.B, a.T, a.N, a.V)
    s = first_latent(a.T, a.N)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        if coconut:
            embeds = model.wte(ids)
            logits, _ = coconut_forward(model, embeds, s, a.N)
        else:
            logits = model(input_ids=ids).logits
        loss = G.lm_loss(logits, labels)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def latent_prefill(model, prompt_ids, N, V):
    """prompt_ids [E,s] (ending in START) -> (logits of the END column [E,V], cache,
    filled input embeddings [E, s+N+1, d]) via the multi-pass forward."""
    E, s = prompt_ids.shape
    tail = torch.tensor([V - 1] * N + [V - 2], dtype=torch.int64).expand(E, N + 1)
    embeds = model.wte(torch.cat((prompt_ids, tail), dim=1))
    fed = []
    logits, cache = coconut_forward(model, embeds, s, N, fed_out=fed)
    filled = torch.cat([embeds[:, :s]] + fed + [embeds[:, s + N:]], dim=1)
    return logits[:, -1, :], cache, filled


def generate_official(model, prompt_ids, N, V, A):
    """Batch 1, like the official Coconut generate(): the first token from the multi-pass
    forward, then each further token re-runs the whole sequence without a cache."""
    last, _, seq = latent_prefill(model, prompt_ids, N, V)
    tok = int(torch.argmax(last[0]).item())
    tokens = [tok]
    for _ in range(A - 1):
        seq = torch.cat((seq, model.wte(torch.tensor(tok)).view(1, 1, -1)), dim=1)
        out = model(inputs_embeds=seq)
        tok = int(torch.argmax(out.logits[0, -1]).item())
        tokens.append(tok)
    return tokens


def generate_batched(model, prompt_ids, N, V, A):
    """A batch of prompts: thoughts and A greedy tokens with the KV cache."""
    last, cache, _ = latent_prefill(model, prompt_ids, N, V)
    tok = torch.argmax(last, dim=-1)
    toks = [tok]
    for _ in range(A - 1):
        out = model(inputs_embeds=model.wte(tok)[:, None, :], past_key_values=cache)
        cache = out.past_key_values
        tok = torch.argmax(out.logits[:, -1, :], dim=-1)
        toks.append(tok)
    return torch.stack(toks, dim=1)


def run_mode(a, mode):
    model = build_model(a)
    s = first_latent(a.T, a.N)
    res = {"mode": mode, "L": a.L, "d": a.d, "H": a.H, "V": a.V, "B": a.B, "T": a.T, "N": a.N,
           "threads": torch.get_num_threads()}
    if mode in ("train", "plain"):
        step = make_train_step(a, model, mode == "train")
        loss0 = step()  # warm-up; its loss is the first step's (before any update)
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        res.update(median_s=statistics.median(times), times=times, loss=loss0,
                   passes=(a.N + 1 if mode == "train" else 1))
    else:
        model.eval()
        Q = a.eval_questions
        ids, _ = make_batch(Q, a.T, a.N, a.V)
        prompts = ids[:, :s]
        times = []
        with torch.no_grad():
            if mode == "eval_official":
                generate_official(model, prompts[0:1], a.N, a.V, a.answer_len)  # warm-up
                for q in range(Q):
                    t0 = time.perf_counter()
                    generate_official(model, prompts[q:q + 1], a.N, a.V, a.answer_len)
                    times.append(time.perf_counter() - t0)
                total = sum(times)
                res.update(eval_batch=1, passes=a.N + 1 + a.answer_len - 1)
            else:
                E = a.eval_batch
                generate_batched(model, prompts[0:min(E, Q)], a.N, a.V, a.answer_len)  # warm-up
                total = 0.0
                for q0 in range(0, Q, E):
                    p = prompts[q0:q0 + E]
                    t0 = time.perf_counter()
                    generate_batched(model, p, a.N, a.V, a.answer_len)
                    dt = time.perf_counter() - t0
                    total += dt
                    times.append(dt / p.size(0))
                res.update(eval_batch=E, passes=a.N + a.answer_len)
        res.update(median_s=statistics.median(times), times=times, questions=Q,
                   answer_len=a.answer_len, total_s=total, mean_s=total / Q)
    res["blas"] = blas_info()
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # KiB
    return res


def emit(res, as_json):
    if as_json:
        print(json.dumps(res), flush=True)
        return
    ts = " ".join(f"{t:.4g}" for t in res["times"][:12]) + (" ..." if len(res["times"]) > 12 else "")
    extra = f" loss={res['loss']:.4f}" if "loss" in res else \
        f" per_question Q={res['questions']} batch={res['eval_batch']} A={res['answer_len']} mean={res['mean_s']:.4g}s"
    print(f"{res['mode']:13s} L={res['L']} d={res['d']} H={res['H']} V={res['V']} B={res['B']} T={res['T']} "
          f"N={res['N']} threads={res['threads']} median={res['median_s']:.4g}s{extra} times=[{ts}] "
          f"passes={res['passes']} peak_rss={res['peak_rss_mb']:.0f}MB", flush=True)


# ---------------------------------------------------------------- self-check

def selfcheck(a):
    ok = True

    def check(cond, msg):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + msg, flush=True)
        ok = ok and bool(cond)

    s = first_latent(a.T, a.N)
    ids, labels = make_batch(a.B, a.T, a.N, a.V)
    lnV = math.log(a.V)

    # 1. multi-pass loss, its value, and the fed-back hidden states' gradients
    model = build_model(a)
    model.train()
    fed = []
    embeds = model.wte(ids)
    logits, _ = coconut_forward(model, embeds, s, a.N, fed_out=fed)
    for h in fed:
        h.retain_grad()
    loss = G.lm_loss(logits, labels)
    loss.backward()
    L1 = loss.item()
    g_wte = model.wte.weight.grad.clone()
    check(math.isfinite(L1) and abs(L1 - lnV) < 0.3,
          f"train loss {L1:.5f} finite and near ln(V)={lnV:.5f} (ln(V-3)={math.log(a.V - 3):.5f})")
    if a.N > 0:
        gn = [float(h.grad.norm()) for h in fed]
        check(all(g > 0 for g in gn), "every fed-back hidden state gets a gradient: |dL/dh_k| = "
              + ", ".join(f"{g:.3e}" for g in gn))

    # 2. the multi-pass forward equals one pass over the filled-in embeddings
    with torch.no_grad():
        filled = torch.cat([embeds[:, :s]] + fed + [embeds[:, s + a.N:]], dim=1)
        ref = model(inputs_embeds=filled).logits
        diff = float((ref - logits).abs().max())
    check(diff < 1e-4, f"multi-pass (KV cache) logits == single pass over filled embeddings: max|diff| = {diff:.2e}")

    # 3. detaching the feedback gives the same loss but a different wte gradient
    model.zero_grad(set_to_none=True)
    logits_d, _ = coconut_forward(model, model.wte(ids), s, a.N, detach_feedback=True)
    loss_d = G.lm_loss(logits_d, labels)
    loss_d.backward()
    g_det = model.wte.weight.grad
    rel = float((g_wte - g_det).norm() / g_wte.norm())
    check(abs(loss_d.item() - L1) < 1e-6, f"detached-feedback loss {loss_d.item():.6f} == {L1:.6f}")
    if a.N > 0:
        check(rel > 1e-4, f"wte gradient through the latent passes: |g - g_detached| / |g| = {rel:.3e}")

    # 4. plain step loss
    pl = G.lm_loss(model(input_ids=ids).logits, labels).item()
    check(math.isfinite(pl) and abs(pl - lnV) < 0.3, f"plain loss {pl:.5f} finite and near ln(V)")

    # 5. one full train step runs (AdamW) and the loss changes afterwards
    step = make_train_step(a, build_model(a), True)
    l0, l1 = step(), step()
    check(math.isfinite(l0) and math.isfinite(l1) and abs(l0 - L1) < 1e-5 and l1 != l0,
          f"train step: loss {l0:.6f} -> {l1:.6f} after one AdamW step")

    # 6. batched (KV cache) greedy decoding == official (no cache) greedy decoding
    model.eval()
    q = min(a.eval_questions, 8)
    with torch.no_grad():
        p = make_batch(q, a.T, a.N, a.V)[0][:, :s]
        tb = generate_batched(model, p, a.N, a.V, a.answer_len).tolist()
        to = [generate_official(model, p[i:i + 1], a.N, a.V, a.answer_len) for i in range(q)]
    check(tb == to, f"batched and official greedy decoding agree on {q} questions ({a.answer_len} tokens): "
          f"first {to[0]}")
    print("blas: " + blas_info(), flush=True)
    print("selfcheck " + ("passed" if ok else "FAILED"), flush=True)
    return ok


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--L", type=int, default=2, help="layers")
    ap.add_argument("--d", type=int, default=256, help="n_embd")
    ap.add_argument("--H", type=int, default=8, help="heads")
    ap.add_argument("--V", type=int, default=40, help="vocab (the last 3 ids are <bot> <eot> <latent>)")
    ap.add_argument("--B", type=int, default=128, help="train batch rows")
    ap.add_argument("--T", type=int, default=80, help="train sequence length")
    ap.add_argument("--N", type=int, default=4, help="latent (continuous thought) count")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5, help="timed train/plain steps after 1 warm-up")
    ap.add_argument("--eval-questions", type=int, default=500, help="Q, questions for the eval modes")
    ap.add_argument("--answer-len", type=int, default=10, help="A, greedy tokens per question")
    ap.add_argument("--eval-batch", type=int, default=64, help="prompts per call in eval_batched")
    ap.add_argument("--mode", default="all", choices=MODES + ("all",))
    ap.add_argument("--json", action="store_true", help="one JSON object per line per mode")
    ap.add_argument("--selfcheck", action="store_true", help="check the step and decoding, then exit")
    ap.add_argument("--info", action="store_true", help="print torch's build/parallel config and BLAS, then exit")
    a = ap.parse_args()
    if min(a.L, a.d, a.H, a.B, a.T, a.threads, a.steps, a.eval_questions, a.answer_len, a.eval_batch) < 1 or a.N < 0:
        ap.error("sizes, --threads, --steps, --eval-questions, --answer-len, --eval-batch must be >= 1, --N >= 0")
    if a.d % a.H:
        ap.error("--d must be a multiple of --H")
    if a.V < 5:
        ap.error("--V must be >= 5 (3 special ids)")
    if first_latent(a.T, a.N) + a.N + 1 >= a.T:
        ap.error(f"--T {a.T} is too short for {a.N} latents (needs labelled columns after <eot>)")

    torch.set_num_threads(a.threads)
    set_blas_threads(a.threads)
    if a.info:
        print(torch.__config__.show())
        print(torch.__config__.parallel_info())
        torch.ones(8, 8) @ torch.ones(8, 8)  # make sure the BLAS is loaded
        print("blas: " + blas_info())
        return
    if a.selfcheck:
        sys.exit(0 if selfcheck(a) else 1)
    if a.mode != "all":
        emit(run_mode(a, a.mode), a.json)
        return
    if not a.json:
        print("blas: " + blas_info(), flush=True)
    rc = 0
    base = [sys.executable, os.path.abspath(__file__)]
    for k in ("L", "d", "H", "V", "B", "T", "N", "threads", "steps"):
        base += [f"--{k}", str(getattr(a, k))]
    base += ["--eval-questions", str(a.eval_questions), "--answer-len", str(a.answer_len),
             "--eval-batch", str(a.eval_batch)] + (["--json"] if a.json else [])
    for m in MODES:  # one child process per mode -> per-mode peak RSS
        r = subprocess.run(base + ["--mode", m], stdout=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode != 0:
            print(f"mode {m} failed with exit status {r.returncode}", file=sys.stderr)
            rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
