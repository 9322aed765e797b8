"""From-scratch PyTorch GPT-2, mathematically identical to Hugging Face
`GPT2LMHeadModel` with eager attention (the classic `GPT2Attention._attn` path).

Used only offline, to write the reference fixtures in tests/fixtures and for the
PyTorch side of the benchmarks. No `transformers` dependency.

Parameter names are HF's without the "transformer." prefix:
  wte.weight [V,d], wpe.weight [n_positions,d],
  h.{i}.ln_1.weight/bias [d], h.{i}.attn.c_attn.weight [d,3d]/bias [3d],
  h.{i}.attn.c_proj.weight [d,d]/bias [d], h.{i}.ln_2.weight/bias [d],
  h.{i}.mlp.c_fc.weight [d,4d]/bias [4d], h.{i}.mlp.c_proj.weight [4d,d]/bias [d],
  ln_f.weight/bias [d].
The LM head is tied to wte (logits = h @ wte.weight^T), so it has no parameter.

Attention masking. HF eager (GPT2Attention._attn + GPT2Model) computes
  scores = (q @ k^T) / sqrt(head_dim)
  scores = where(causal, scores, finfo(f32).min)
  scores = scores + (1 - attention_mask)[:, None, None, :] * finfo(f32).min
  probs  = softmax(scores, -1)
For every query with at least one non-padded key in its causal window, padded and
future keys get weight exactly 0 (exp underflows) -- ordinary masked attention.
For a query whose causal window holds ONLY padded keys (a left pad), every causal key
scores exactly finfo.min (the score is absorbed by rounding), a future padded key
scores min+min = -inf, but a future NON-padded key scores min+0 = finfo.min too: HF's
row is uniform over (padded causal keys) + (later real keys present in the same call),
so it depends on how the sequence is chunked with the KV cache.

This module therefore offers two modes (GPT2Config.fully_masked_rows):
  "causal_uniform" (default): scores = where(causal, scores + pad_add, -inf), i.e. such a
      row is UNIFORM over its causal window -- chunking-invariant, and identical to HF
      for every other query (bitwise: masked keys get weight 0 in both);
  "hf_eager": HF's arithmetic bit for bit.
The two differ only in outputs at fully-masked (left-pad) query positions, which no
non-pad position, loss or gradient ever depends on.
"""
import json
import math
from collections import namedtuple
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

GPT2Output = namedtuple("GPT2Output", ["logits", "hidden", "past_key_values"])


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5
    embd_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    resid_pdrop: float = 0.0
    # How a query whose causal window holds only padded keys attends (see module doc):
    #   "causal_uniform" (default, used by the fixtures): uniform over its causal window;
    #   "hf_eager": bit-exact HF eager arithmetic (uniform over the padded causal keys AND
    #               every later non-padded key of the same forward call -> depends on chunking).
    fully_masked_rows: str = "causal_uniform"

    @classmethod
    def from_dict(cls, d):
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in fields})

    def to_hf_dict(self, **extra):
        """HF config.json-style dict (sorted keys when dumped)."""
        d = {
            "activation_function": "gelu_new",
            "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": self.attn_pdrop,
            "embd_pdrop": self.embd_pdrop,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "model_type": "gpt2",
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "n_layer": self.n_layer,
            "n_positions": self.n_positions,
            "resid_pdrop": self.resid_pdrop,
            "vocab_size": self.vocab_size,
        }
        d.update(extra)
        return d


class Conv1D(nn.Module):
    """HF Conv1D: y = x @ W + b with W stored [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        out_shape = x.shape[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.reshape(-1, x.size(-1)), self.weight)
        return x.view(out_shape)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd
        assert d % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.head_dim = d // cfg.n_head
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)
        self.hf_eager = cfg.fully_masked_rows == "hf_eager"
        assert cfg.fully_masked_rows in ("hf_eager", "causal_uniform"), cfg.fully_masked_rows
        self.attn_dropout = nn.Dropout(cfg.attn_pdrop)
        self.resid_dropout = nn.Dropout(cfg.resid_pdrop)

    def _split(self, x):  # [B,T,d] -> [B,H,T,D]
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, layer_past=None, mask_add=None):
        q, k, v = self.c_attn(x).split(x.size(-1), dim=2)
        q, k, v = self._split(q), self._split(k), self._split(v)
        if layer_past is not None:
            pk, pv = layer_past
            k = torch.cat((pk, k), dim=-2)
            v = torch.cat((pv, v), dim=-2)
        present = (k, v)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype, device=w.device)
        tq, tk = q.size(-2), k.size(-2)
        causal = torch.ones(tk, tk, dtype=torch.bool, device=w.device).tril()[tk - tq:tk, :tk]
        if self.hf_eager:
            minv = torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype, device=w.device)
            w = torch.where(causal, w, minv)
            if mask_add is not None:
                w = w + mask_add
        else:
            if mask_add is not None:
                w = w + mask_add
            w = torch.where(causal, w, torch.full([], -math.inf, dtype=w.dtype, device=w.device))
        w = F.softmax(w, dim=-1)
        w = self.attn_dropout(w)
        a = torch.matmul(w, v)  # [B,H,Tq,D]
        B, H, T, D = a.shape
        a = a.permute(0, 2, 1, 3).contiguous().view(B, T, H * D)
        a = self.resid_dropout(self.c_proj(a))
        return a, present


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd
        self.c_fc = Conv1D(4 * d, d)
        self.c_proj = Conv1D(d, 4 * d)
        self.dropout = nn.Dropout(cfg.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd
        self.ln_1 = nn.LayerNorm(d, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(d, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x, layer_past=None, mask_add=None):
        a, present = self.attn(self.ln_1(x), layer_past, mask_add)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present


class GPT2(nn.Module):
    """GPT-2 LM (transformer + tied head). Parameter names = HF's without prefix."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.embd_pdrop)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None,
                attention_mask=None, past_key_values=None):
        """input_ids [B,T] or inputs_embeds [B,T,d] (exactly one);
        position_ids [B,T] (default: past_len + arange(T));
        attention_mask [B, past_len+T] of 1 (attend) / 0 (pad), default all ones;
        past_key_values: list per layer of (k, v), each [B,H,past_len,D].
        Returns GPT2Output(logits [B,T,V], hidden [B,T,d] after ln_f, new cache)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids / inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        B, T, _ = inputs_embeds.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].size(-2)
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + T, device=inputs_embeds.device)
            position_ids = position_ids.unsqueeze(0).expand(B, T)
        mask_add = None
        if attention_mask is not None:
            assert attention_mask.shape == (B, past_len + T), attention_mask.shape
            m = attention_mask.to(inputs_embeds.dtype)[:, None, None, :]
            mask_add = (1.0 - m) * torch.finfo(inputs_embeds.dtype).min
        x = self.drop(inputs_embeds + self.wpe(position_ids))
        presents = []
        for i, block in enumerate(self.h):
            x, present = block(x, None if past_key_values is None else past_key_values[i], mask_add)
            presents.append(present)
        hidden = self.ln_f(x)
        logits = F.linear(hidden, self.wte.weight)
        return GPT2Output(logits, hidden, presents)


def lm_loss(logits, labels):
    """HF causal-LM loss: mean CE of logits[:, :-1] vs labels[:, 1:], ignore -100."""
    V = logits.size(-1)
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, V), labels[:, 1:].reshape(-1).long(),
                           ignore_index=-100)


def hf_config_json(cfg, **extra):
    return json.dumps(cfg.to_hf_dict(**extra), indent=2, sort_keys=True) + "\n"


def load_state_dict_hf(model, tensors):
    """Load HF-named tensors (with or without "transformer." prefix; attn.bias /
    attn.masked_bias buffers and lm_head.weight are ignored) into `model`."""
    sd = {}
    for k, v in tensors.items():
        if k.startswith("transformer."):
            k = k[len("transformer."):]
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias") or k == "lm_head.weight":
            continue
        sd[k] = v
    model.load_state_dict(sd, strict=True)
    return model
