#!/usr/bin/python3
"""Write the PyTorch reference fixtures in tests/fixtures/ (see tests/fixtures/README.md).

Run OFFLINE with the Debian torch:   /usr/bin/python3 tests/make_fixtures.py
Deterministic: fixed seeds, one thread, deterministic file writer -> running it twice
gives byte-identical files. CI never runs this; it only reads the committed files.

Besides writing files, the script checks its own reference implementations against
each other and fails loudly (AssertionError) when they disagree:
  * GPT-2: forward in two chunks with a KV cache == one full forward;
  * Coconut: official-style multi-pass forward (KV cache, one pass per thought)
    == "full recompute" (every pass re-runs the whole prefix without cache)
    == one plain forward over the final input embeddings (logits, hidden, loss, grads);
  * generation: cached latent stepping + cached greedy decode
    == official-style Coconut.generate (multi-pass forward over the prompt with latent
    placeholders, then uncached full re-forward for every new token).
"""
import hashlib
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "torch_ref"))

import gpt2 as G  # noqa: E402
import safetensors_io as st  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = os.path.join(HERE, "fixtures")
TOL = 1e-5
WRITTEN = []

# ---------------------------------------------------------------- helpers


def tiny_config(vocab):
    return G.GPT2Config(vocab_size=vocab, n_positions=48, n_embd=32, n_layer=2, n_head=4,
                        layer_norm_epsilon=1e-5)


def init_weights(model, seed):
    """Seeded random init with large enough scales to give peaked logits.
    Draws one torch.randn per parameter, in named_parameters() order."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("wte.weight", "wpe.weight"):
                mean, std = 0.0, 0.3
            elif name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                mean, std = 1.0, 0.1
            elif name.endswith(".bias"):
                mean, std = 0.0, 0.05
            else:
                mean, std = 0.0, 0.15
            p.copy_(torch.randn(p.shape, generator=g) * std + mean)
    return model


def make_model(vocab, seed):
    torch.manual_seed(0)  # module constructors draw from the global RNG; overwritten below
    return init_weights(G.GPT2(tiny_config(vocab)), seed)


def params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def grads(model, prefix="grad."):
    return {prefix + n: p.grad.detach().clone() for n, p in model.named_parameters()}


def maxdiff(a, b):
    return (a.detach().double() - b.detach().double()).abs().max().item() if a.numel() else 0.0


def check(name, a, b, tol=TOL):
    assert a.shape == b.shape, f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    d = maxdiff(a, b)
    if not d <= tol:
        raise AssertionError(f"CONSISTENCY CHECK FAILED: {name}: max |diff| = {d:.3e} > {tol:g}")
    return d


def i32(x):
    return torch.as_tensor(x, dtype=torch.int32)


def write_st(relpath, tensors, metadata=None):
    path = os.path.join(OUT, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st.save(path, tensors, metadata)
    # round trip through the reader
    back, meta = st.load(path)
    assert set(back) == set(tensors) and meta == (metadata or None)
    for k, v in tensors.items():
        assert torch.equal(back[k], torch.as_tensor(v).detach().cpu()), k
    WRITTEN.append(relpath)


def write_text(relpath, text):
    path = os.path.join(OUT, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)
    WRITTEN.append(relpath)


def save_model(folder, model, cfg, extra_cfg):
    cfg_dict = cfg.to_hf_dict(**extra_cfg)
    write_text(f"{folder}/config.json", json.dumps(cfg_dict, indent=2, sort_keys=True) + "\n")
    meta = {"config": json.dumps(cfg_dict, sort_keys=True, separators=(",", ":")), "format": "pt"}
    write_st(f"{folder}/model.safetensors", params(model), meta)
    return cfg_dict


# ---------------------------------------------------------------- fixture 1: GPT-2

PAD1 = 95  # pad id used in the gpt2 fixture batch (no special meaning for the model)


def gpt2_batch():
    g = torch.Generator().manual_seed(101)
    B, T = 3, 12
    ids = torch.randint(0, 95, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    pos = torch.arange(T).repeat(B, 1)
    # row 1: 3 right pads
    mask[1, 9:] = 0
    ids[1, 9:] = PAD1
    pos[1, 9:] = 0
    # row 2: 2 left pads, positions restart at 0 after them
    mask[2, :2] = 0
    ids[2, :2] = PAD1
    pos[2, :2] = 0
    pos[2, 2:] = torch.arange(T - 2)
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[0, :3] = -100   # prompt positions
    labels[1, :2] = -100
    labels[2, 2:5] = -100  # first real token of row 2 + two more prompt tokens
    return ids, mask, pos, labels


def fixture_gpt2():
    cfg = tiny_config(96)
    model = make_model(96, seed=1234)
    extra = {"bos_token_id": 95, "eos_token_id": 95}
    cfg_dict = save_model("gpt2", model, cfg, extra)

    # HF-style copy: "transformer." prefix, attn.bias buffers, lm_head.weight, no metadata
    hf = {}
    for n, p in params(model).items():
        hf["transformer." + n] = p
    npos = cfg.n_positions
    for i in range(cfg.n_layer):
        hf[f"transformer.h.{i}.attn.bias"] = torch.ones(npos, npos).tril().view(1, 1, npos, npos)
    hf["lm_head.weight"] = model.wte.weight.detach().clone()
    write_text("gpt2/hf_style/config.json", json.dumps(cfg_dict, indent=2, sort_keys=True) + "\n")
    write_st("gpt2/hf_style/model.safetensors", hf, None)
    m2 = G.load_state_dict_hf(G.GPT2(cfg), st.load(os.path.join(OUT, "gpt2/hf_style/model.safetensors"))[0])
    for (n, a), (_, b) in zip(model.named_parameters(), m2.named_parameters()):
        assert torch.equal(a, b), n

    ids, mask, pos, labels = gpt2_batch()
    model.zero_grad()
    out = model(input_ids=ids, position_ids=pos, attention_mask=mask)
    loss = G.lm_loss(out.logits, labels)
    loss.backward()
    emb = model.wte.weight[ids].detach()

    # consistency: forward from embeddings, and two chunks with a KV cache
    with torch.no_grad():
        o2 = model(inputs_embeds=emb, position_ids=pos, attention_mask=mask)
        check("gpt2 inputs_embeds forward", o2.logits, out.logits, 0.0)
        a = model(input_ids=ids[:, :5], position_ids=pos[:, :5], attention_mask=mask[:, :5])
        b = model(input_ids=ids[:, 5:], position_ids=pos[:, 5:], attention_mask=mask,
                  past_key_values=a.past_key_values)
        d1 = check("gpt2 KV-cache chunked logits", torch.cat([a.logits, b.logits], 1), out.logits)
        d2 = check("gpt2 KV-cache chunked hidden", torch.cat([a.hidden, b.hidden], 1), out.hidden)
        print(f"  gpt2 KV-cache chunked vs full: max |diff| logits {d1:.1e} hidden {d2:.1e}")
        # uniform attention for the fully padded query rows (row 2, cols 0-1) is what we
        # claim in the README: check it on layer 0 directly
        x = model.wte(ids) + model.wpe(pos)
        blk = model.h[0]
        q, k, v = blk.attn.c_attn(blk.ln_1(x)).split(cfg.n_embd, dim=2)
        v = blk.attn._split(v)
        # attention output of query (row 2, col 1) must be the mean of v over cols 0..1
        full_a, _ = blk.attn(blk.ln_1(x), None, ((1.0 - mask.float()) * torch.finfo(torch.float32).min)[:, None, None, :])
        mean_v = v[2, :, :2, :].mean(dim=1)  # [H, D]
        expect = blk.attn.c_proj(mean_v.reshape(1, -1))[0]
        check("gpt2 uniform attention on padded query", full_a[2, 1], expect, 1e-6)
    # HF's exact eager arithmetic differs only at the fully masked (left-pad) queries:
    # row 2, columns 0-1. Everything else, the loss and every gradient are bitwise equal.
    hf_cfg = G.GPT2Config(**{**cfg.__dict__, "fully_masked_rows": "hf_eager"})
    mh = G.GPT2(hf_cfg)
    mh.load_state_dict(model.state_dict())
    oh = mh(input_ids=ids, position_ids=pos, attention_mask=mask)
    lh = G.lm_loss(oh.logits, labels)
    lh.backward()
    real = torch.ones(3, 12, dtype=torch.bool)
    real[2, :2] = False
    assert torch.equal(oh.logits[real], out.logits[real]) and torch.equal(oh.hidden[real], out.hidden[real])
    assert torch.equal(lh, loss)
    for (n, a), (_, b) in zip(model.named_parameters(), mh.named_parameters()):
        assert torch.equal(a.grad, b.grad), n
    print(f"  hf_eager vs causal_uniform: identical except left-pad rows "
          f"(max |logit diff| there {maxdiff(oh.logits[~real], out.logits[~real]):.3f})")

    io = {
        "input_ids": i32(ids), "attention_mask": i32(mask), "position_ids": i32(pos),
        "labels": i32(labels), "logits": out.logits.detach(), "hidden": out.hidden.detach(),
        "loss": loss.detach().reshape([]), "inputs_embeds": emb,
    }
    io.update(grads(model))
    write_st("gpt2/io.safetensors", io)
    print(f"  gpt2: loss = {loss.item():.6f}")

    # ---- AdamW runs
    start = params(model)

    def fresh():
        m = G.GPT2(cfg)
        with torch.no_grad():
            for n, p in m.named_parameters():
                p.copy_(start[n])
        return m

    def opt_for(m):
        return torch.optim.AdamW(m.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=0.01, foreach=False)

    def full_loss(m, rows=slice(None)):
        o = m(input_ids=ids[rows], position_ids=pos[rows], attention_mask=mask[rows])
        return G.lm_loss(o.logits, labels[rows])

    adam = {}
    # run 1: plain
    m = fresh(); opt = opt_for(m); losses = []
    for _ in range(5):
        opt.zero_grad()
        l = full_loss(m); l.backward(); opt.step()
        losses.append(l.item())
    adam["losses"] = torch.tensor(losses, dtype=torch.float32)
    adam.update({"final." + n: p for n, p in params(m).items()})
    # run 2: clip_grad_norm_(max_norm=0.5) before each step
    m = fresh(); opt = opt_for(m); losses = []; norms = []
    for _ in range(5):
        opt.zero_grad()
        l = full_loss(m); l.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.5).item())
        opt.step()
        losses.append(l.item())
    adam["losses_clip"] = torch.tensor(losses, dtype=torch.float32)
    adam["gradnorms_clip"] = torch.tensor(norms, dtype=torch.float32)
    adam.update({"final_clip." + n: p for n, p in params(m).items()})
    assert min(norms) > 0.5, "clipping must be active in every step for a meaningful test"
    # run 3: gradient accumulation, micro-batches rows 0-1 and row 2, each loss * 1/2
    m = fresh(); opt = opt_for(m); losses = []; micro = []
    for _ in range(3):
        opt.zero_grad()
        la = full_loss(m, slice(0, 2)); (la / 2).backward()
        lb = full_loss(m, slice(2, 3)); (lb / 2).backward()
        opt.step()
        micro.append([la.item(), lb.item()])
        losses.append((la.item() + lb.item()) / 2)
    adam["losses_accum"] = torch.tensor(losses, dtype=torch.float32)
    adam["losses_accum_micro"] = torch.tensor(micro, dtype=torch.float32)
    adam.update({"final_accum." + n: p for n, p in params(m).items()})
    write_st("gpt2/adamw.safetensors", adam)
    print(f"  adamw losses       {[round(x, 5) for x in adam['losses'].tolist()]}")
    print(f"  adamw losses_clip  {[round(x, 5) for x in adam['losses_clip'].tolist()]}"
          f"  (grad norms {[round(x, 3) for x in norms]})")
    print(f"  adamw losses_accum {[round(x, 5) for x in adam['losses_accum'].tolist()]}")


# ---------------------------------------------------------------- fixture 2: Coconut

EOS, BOT, EOT, LAT = 95, 96, 97, 98  # pad == eos == 95
V2 = 99


def make_example(g, q_len, k, rest_len):
    """question, <bot>, k x <latent>, <eot>, steps/answer, eos; labels like the
    official get_cot_latent_dataset (-100 on question, markers and latents)."""
    q = torch.randint(0, 95, (q_len,), generator=g).tolist()
    rest = torch.randint(0, 95, (rest_len,), generator=g).tolist() + [EOS]
    ids = q + [BOT] + [LAT] * k + [EOT] + rest
    labels = [-100] * (q_len + k + 2) + rest
    return {"input_ids": ids, "labels": labels, "attention_mask": [1] * len(ids),
            "position_ids": list(range(len(ids)))}


def collate(features, latent_id=LAT, pad_id=EOS):
    """Official MyCollator: left-pad so the first latent of every example with latents
    lands in the same column (examples without latents: no left pad); position ids
    restart at 0 after the left pads; then right-pad to the longest (pad id, mask 0,
    label -100, position 0)."""
    feats = [dict((k, list(v)) for k, v in f.items()) for f in features]
    earliest = [f["input_ids"].index(latent_id) for f in feats if latent_id in f["input_ids"]]
    if earliest:
        col = max(earliest)
        for f in feats:
            n = col - f["input_ids"].index(latent_id) if latent_id in f["input_ids"] else 0
            f["position_ids"] = [0] * n + list(range(len(f["input_ids"])))
            f["input_ids"] = [pad_id] * n + f["input_ids"]
            f["labels"] = [-100] * n + f["labels"]
            f["attention_mask"] = [0] * n + f["attention_mask"]
    T = max(len(f["input_ids"]) for f in feats)
    out = {}
    for key, padv in (("input_ids", pad_id), ("attention_mask", 0), ("labels", -100), ("position_ids", 0)):
        out[key] = torch.tensor([f[key] + [padv] * (T - len(f[key])) for f in feats], dtype=torch.long)
    return out


def coconut_forward(model, input_ids, attention_mask, labels, position_ids):
    """Literal re-implementation of the official Coconut.forward (facebookresearch/coconut,
    coconut.py), with the base model = our GPT2. Returns a dict with logits, hidden
    (per column, from the pass that computed it), embeds (final inputs_embeds),
    loss and the list of computed ranges."""
    B, T = input_ids.shape
    latent_lists = [[j for j in range(T) if input_ids[b, j].item() == LAT] for b in range(B)]
    max_n = max(len(l) for l in latent_lists)
    next_range = (0, T)
    inputs_embeds = model.wte(input_ids)
    if max_n > 0:
        next_range = (0, min(l[0] for l in latent_lists if l))
    kv = None
    logits, hiddens, ranges = [], [], []
    for pass_idx in range(max_n):
        r0, r1 = next_range
        if kv is None:
            out = model(inputs_embeds=inputs_embeds[:, r0:r1], attention_mask=attention_mask[:, r0:r1],
                        position_ids=position_ids[:, r0:r1])
            offset = 0
        else:
            past = [(k[:, :, :r0], v[:, :, :r0]) for k, v in kv]
            out = model(inputs_embeds=inputs_embeds[:, r0:r1], attention_mask=attention_mask[:, :r1],
                        position_ids=position_ids[:, r0:r1], past_key_values=past)
            offset = r0
        ranges.append((r0, r1))
        logits.append(out.logits)
        hiddens.append(out.hidden)
        next_range = (r1, T if pass_idx + 1 >= max_n else r1 + 1)
        kv = out.past_key_values
        h = out.hidden
        fill = [(b, l[pass_idx]) for b, l in enumerate(latent_lists) if len(l) > pass_idx]
        rows = [[inputs_embeds[b, j, :] for j in range(T)] for b in range(B)]
        for b, tok in fill:
            idx = tok - 1 - offset
            # the official code would silently wrap a negative index; we refuse
            assert 0 <= idx < r1 - r0, f"latent at column {tok} not fed by pass {ranges[-1]}"
            rows[b][tok] = h[b, idx, :]
        inputs_embeds = torch.stack([torch.stack(r) for r in rows])
    r0, r1 = next_range
    past = None if kv is None else [(k[:, :, :r0], v[:, :, :r0]) for k, v in kv]
    out = model(inputs_embeds=inputs_embeds[:, r0:r1], attention_mask=attention_mask[:, :r1],
                position_ids=position_ids[:, r0:r1], past_key_values=past)
    ranges.append((r0, r1))
    logits.append(out.logits)
    hiddens.append(out.hidden)
    logits = torch.cat(logits, dim=-2)
    hidden = torch.cat(hiddens, dim=-2)
    loss = G.lm_loss(logits, labels)
    return {"logits": logits, "hidden": hidden, "embeds": inputs_embeds, "loss": loss,
            "ranges": ranges, "latent_lists": latent_lists}


def coconut_full_recompute(model, input_ids, attention_mask, labels, position_ids, ranges):
    """Same thoughts, but every pass re-runs the whole prefix [0, end) with no cache."""
    B, T = input_ids.shape
    latent_lists = [[j for j in range(T) if input_ids[b, j].item() == LAT] for b in range(B)]
    emb = model.wte(input_ids)
    for p in range(len(ranges) - 1):
        r1 = ranges[p][1]
        out = model(inputs_embeds=emb[:, :r1], attention_mask=attention_mask[:, :r1],
                    position_ids=position_ids[:, :r1])
        rows = [[emb[b, j] for j in range(T)] for b in range(B)]
        for b, l in enumerate(latent_lists):
            if len(l) > p:
                rows[b][l[p]] = out.hidden[b, l[p] - 1]
        emb = torch.stack([torch.stack(r) for r in rows])
    out = model(inputs_embeds=emb, attention_mask=attention_mask, position_ids=position_ids)
    return {"logits": out.logits, "hidden": out.hidden, "embeds": emb, "loss": G.lm_loss(out.logits, labels)}


def run_latent_batch(model, feats, prefix):
    batch = collate(feats)
    ids, mask, labels, pos = batch["input_ids"], batch["attention_mask"], batch["labels"], batch["position_ids"]
    model.zero_grad()
    r = coconut_forward(model, ids, mask, labels, pos)
    r["loss"].backward()
    g_multi = grads(model)
    model.zero_grad()
    f = coconut_full_recompute(model, ids, mask, labels, pos, r["ranges"])
    f["loss"].backward()
    g_full = grads(model)
    model.zero_grad()
    worst = {}
    for key in ("logits", "hidden", "embeds", "loss"):
        worst[key] = check(f"{prefix}multi-pass vs full recompute: {key}", r[key], f[key])
    worst["grads"] = max(check(f"{prefix}multi-pass vs full recompute: {n}", g_multi[n], g_full[n])
                         for n in g_multi)
    with torch.no_grad():
        p = model(inputs_embeds=r["embeds"], attention_mask=mask, position_ids=pos)
    worst["plain.logits"] = check(f"{prefix}multi-pass vs plain forward over final embeds: logits",
                                  r["logits"], p.logits)
    worst["plain.hidden"] = check(f"{prefix}multi-pass vs plain forward over final embeds: hidden",
                                  r["hidden"], p.hidden)
    print(f"  latent {prefix or 'batch1.'} max |diff| multi-pass vs full recompute / plain: "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    # the thoughts really are the fed-back hidden states
    for b, l in enumerate(r["latent_lists"]):
        for j in l:
            check(f"{prefix}thought row {b} col {j}", r["embeds"][b, j], r["hidden"][b, j - 1], 0.0)
    t = {
        "input_ids": i32(ids), "attention_mask": i32(mask), "position_ids": i32(pos), "labels": i32(labels),
        "logits": r["logits"].detach(), "hidden": r["hidden"].detach(), "embeds": r["embeds"].detach(),
        "loss": r["loss"].detach().reshape([]), "pass_ranges": i32(r["ranges"]),
    }
    t.update(g_multi)
    print(f"  latent {prefix or 'batch1.'} T={ids.shape[1]} passes={r['ranges']} loss={r['loss'].item():.6f}")
    return {prefix + k: v for k, v in t.items()}


GEN_MAX_NEW = 8


def argmax_lowest(x):
    m = x.max()
    return int((x == m).nonzero()[0, 0])


@torch.no_grad()
def generate_cached(model, prompt, k):
    """prompt = question + <bot>. k thoughts fed back one pass at a time (KV cache),
    then <eot> as a token embedding, then greedy decode until eos / max new tokens."""
    ids = torch.tensor([prompt])
    out = model(input_ids=ids)
    kv, n = out.past_key_values, len(prompt)
    h = out.hidden[:, -1:]
    thoughts = []
    for _ in range(k):
        thoughts.append(h[0, 0].clone())
        out = model(inputs_embeds=h, past_key_values=kv, position_ids=torch.tensor([[n]]))
        kv, n, h = out.past_key_values, n + 1, out.hidden[:, -1:]
    out = model(input_ids=torch.tensor([[EOT]]), past_key_values=kv, position_ids=torch.tensor([[n]]))
    kv, n = out.past_key_values, n + 1
    new, step_logits, stopped = [], [], False
    while len(new) < GEN_MAX_NEW:
        lg = out.logits[0, -1]
        step_logits.append(lg.clone())
        tok = argmax_lowest(lg)
        if tok == EOS:
            stopped = True
            break
        new.append(tok)
        if len(new) == GEN_MAX_NEW:
            break
        out = model(input_ids=torch.tensor([[tok]]), past_key_values=kv, position_ids=torch.tensor([[n]]))
        kv, n = out.past_key_values, n + 1
    th = torch.stack(thoughts) if thoughts else torch.zeros(0, model.cfg.n_embd)
    return new, stopped, th, torch.stack(step_logits)


@torch.no_grad()
def generate_official(model, prompt, k):
    """Official Coconut.generate (batch 1): multi-pass forward over
    question + <bot> + k x <latent> + <eot>, first token = argmax (appended without an
    eos check!), then each further token from a full uncached forward over all embeds."""
    ids = torch.tensor([prompt + [LAT] * k + [EOT]])
    T = ids.shape[1]
    r = coconut_forward(model, ids, torch.ones_like(ids), ids.clone(), torch.arange(T).view(1, -1))
    tok = argmax_lowest(r["logits"][0, -1])
    new = [tok]
    embeds = torch.cat([r["embeds"], model.wte.weight[tok].view(1, 1, -1)], dim=1)
    for _ in range(GEN_MAX_NEW - 1):
        out = model(inputs_embeds=embeds)
        tok = argmax_lowest(out.logits[0, -1])
        if tok == EOS:
            break
        new.append(tok)
        embeds = torch.cat([embeds, model.wte.weight[tok].view(1, 1, -1)], dim=1)
    return new, r


GEN_K = [0, 1, 3, 2]
GEN_QLEN = [3, 6, 4, 8]


def gen_prompts():
    g = torch.Generator().manual_seed(303)
    return [torch.randint(0, 95, (n,), generator=g).tolist() + [BOT] for n in GEN_QLEN]


def gen_ok(results):
    """Seed acceptance: no generation starts with eos (so the official 'first token is
    appended unchecked' quirk cannot matter), >= 1 stops at eos before the limit, and
    >= 2 produce at least 3 tokens, the 4 outputs are pairwise different, and every
    greedy decision wins by a logit margin >= 1e-3 (so float noise cannot flip it)."""
    news = [r[0] for r in results]
    for r in results:
        top2 = r[3].topk(2, dim=-1).values
        if (top2[:, 0] - top2[:, 1]).min().item() < 1e-3:
            return False
    if any(r[3].shape[0] > 0 and argmax_lowest(r[3][0]) == EOS for r in results):
        return False
    if not any(r[1] and len(r[0]) < GEN_MAX_NEW for r in results):
        return False
    if sum(len(n) >= 3 for n in news) < 2:
        return False
    return len({tuple(n) for n in news}) == len(news)


def fixture_latent():
    cfg = tiny_config(V2)
    prompts = gen_prompts()
    seed = None
    for cand in range(5000, 7000):  # deterministic search for weights giving useful generations
        m = make_model(V2, cand)
        res = [generate_cached(m, p, k) for p, k in zip(prompts, GEN_K)]
        if gen_ok(res):
            seed, model, gens = cand, m, res
            break
    assert seed is not None, "no seed in range gave acceptable generations"
    print(f"  latent model seed {seed} (first acceptable in 5000..6999)")
    extra = {"bos_token_id": EOS, "eos_token_id": EOS, "pad_token_id": EOS,
             "start_latent_id": BOT, "end_latent_id": EOT, "latent_token_id": LAT}
    save_model("latent", model, cfg, extra)

    # ---- training-forward fixture
    g = torch.Generator().manual_seed(202)
    spec = [(6, 0, 4), (3, 1, 5), (5, 2, 2), (2, 3, 3), (4, 4, 1)]  # (question len, k, steps+answer len)
    ex = [make_example(g, *s) for s in spec]
    io = {}
    io.update(run_latent_batch(model, ex, ""))
    io.update(run_latent_batch(model, [ex[1], ex[3], ex[0]], "b2."))
    write_st("latent/io.safetensors", io)

    # ---- generation fixture
    gen_t, recs = {}, []
    for i, (p, k) in enumerate(zip(prompts, GEN_K)):
        new, stopped, th, lg = gens[i]
        off_new, r = generate_official(model, p, k)
        assert off_new == new, f"generation {i}: cached {new} != official-style {off_new}"
        if k:
            ths = [r["hidden"][0, len(p) - 1 + j] for j in range(k)]
            check(f"generation {i} thoughts cached vs multi-pass", th, torch.stack(ths))
            gen_t[f"thoughts.{i}"] = th
        gen_t[f"step_logits.{i}"] = lg
        recs.append({"index": i, "prompt_ids": p, "k": k,
                     "official_input_ids": p + [LAT] * k + [EOT],
                     "new_tokens": new, "stopped_at_eos": stopped})
        print(f"  gen {i}: k={k} prompt={p} -> {new}{' <eos>' if stopped else ''}")
    doc = {
        "eos_id": EOS, "start_latent_id": BOT, "end_latent_id": EOT, "latent_id": LAT,
        "max_new_tokens": GEN_MAX_NEW, "model_seed": seed, "generations": recs,
    }
    body = "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in doc.items() if k != "generations")
    body += ' "generations": [\n' + ",\n".join("  " + json.dumps(r) for r in recs) + "\n ]\n"
    assert json.loads("{\n" + body + "}\n") == doc
    write_text("latent/generate.json", "{\n" + body + "}\n")
    write_st("latent/generate.safetensors", gen_t)


def main():
    os.makedirs(OUT, exist_ok=True)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("fixture 1: gpt2")
    fixture_gpt2()
    print("fixture 2: latent")
    fixture_latent()
    total = 0
    print("wrote:")
    for rel in WRITTEN:
        path = os.path.join(OUT, rel)
        data = open(path, "rb").read()
        total += len(data)
        print(f"  {hashlib.sha256(data).hexdigest()[:16]}  {len(data):8d}  tests/fixtures/{rel}")
    print(f"total {total} bytes ({total / 1e6:.2f} MB)")
    assert total < 1_600_000, "fixtures grew beyond the size budget"


if __name__ == "__main__":
    main()
