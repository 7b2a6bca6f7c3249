#!/usr/bin/env python3
"""Expected values for tinygpt's value residual and value embeddings, from PyTorch.

Writes value-residual-references.json next to this script, read by
Tests/ModelTests/SpeedRunReferenceTests.swift: the loss of a tiny GPT
(pre-norm RMSNorm, learned positions, ReLU², no biases, tied embeddings,
3 layers, 2 query heads sharing 1 K/V head) with

- value residual learning (ResFormer, Zhou et al. 2024): layer l > 0 attends
  with lambda_l * v_l + (1 - lambda_l) * v_1, v_1 the first layer's values,
  lambda_l a learned scalar (blocks.l.attn.value_mix);
- value embeddings (the modded-nanogpt speed-run): N = 1 table E_0
  (value_embeddings.0.weight, vocab x kv_dim), E_0[token] added to the
  values of layer 0 and layer n_layer - N + 0 = 2, before the mix;

and the gradient of that loss for every parameter, named as in tinygpt's
checkpoints. Run from the repository root (needs torch, used only here):
    python3 Tests/ModelTests/Fixtures/make_value_residual_references.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(34)
V, T, B, L, C, H, HKV, FF, N = 7, 5, 2, 3, 8, 2, 1, 12, 1
D = C // H
KV = HKV * D
eps = 1e-5

shapes = {"token_embedding.weight": (V, C), "position_embedding.weight": (T, C)}
for l in range(L):
    b = f"blocks.{l}"
    shapes[b + ".attn_norm.weight"] = (C,)
    shapes[b + ".attn.q.weight"] = (C, C)
    shapes[b + ".attn.k.weight"] = (KV, C)
    shapes[b + ".attn.v.weight"] = (KV, C)
    shapes[b + ".attn.out.weight"] = (C, C)
    if l > 0:
        shapes[b + ".attn.value_mix"] = (1,)
    shapes[b + ".ffn_norm.weight"] = (C,)
    shapes[b + ".ffn.up.weight"] = (FF, C)
    shapes[b + ".ffn.down.weight"] = (C, FF)
shapes["final_norm.weight"] = (C,)
for i in range(N):
    shapes[f"value_embeddings.{i}.weight"] = (V, KV)

p = {}
for name, s in shapes.items():
    if name.endswith("norm.weight"):
        t = 1 + 0.1 * torch.randn(s)
    elif name.endswith("value_mix"):
        t = torch.rand(s)  # away from the initial 0.5, so the formula's direction shows
    else:
        t = 0.4 * torch.randn(s)
    p[name] = t.requires_grad_(True)

ids = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))


def table_of(layer):
    if layer < N:
        return layer
    return layer - (L - N) if layer >= L - N else None


def forward():
    x = p["token_embedding.weight"][ids] + p["position_embedding.weight"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    v1 = None
    for l in range(L):
        b = f"blocks.{l}."
        h = F.rms_norm(x, (C,), p[b + "attn_norm.weight"], eps)
        q = (h @ p[b + "attn.q.weight"].T).view(B, T, H, D).transpose(1, 2)
        k = (h @ p[b + "attn.k.weight"].T).view(B, T, HKV, D).transpose(1, 2)
        v = h @ p[b + "attn.v.weight"].T
        table = table_of(l)
        if table is not None:
            v = v + p[f"value_embeddings.{table}.weight"][ids]
        if v1 is None:
            v1 = v
        else:
            lam = p[b + "attn.value_mix"]
            v = lam * v + (1 - lam) * v1
        v = v.view(B, T, HKV, D).transpose(1, 2)
        k = k.repeat_interleave(H // HKV, dim=1)
        v = v.repeat_interleave(H // HKV, dim=1)
        scores = (q @ k.transpose(-1, -2)) / D ** 0.5
        scores = scores.masked_fill(~causal, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[b + "attn.out.weight"].T
        h = F.rms_norm(x, (C,), p[b + "ffn_norm.weight"], eps)
        x = x + torch.relu(h @ p[b + "ffn.up.weight"].T).square() @ p[b + "ffn.down.weight"].T
    x = F.rms_norm(x, (C,), p["final_norm.weight"], eps)
    logits = x @ p["token_embedding.weight"].T
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


loss = forward()
loss.backward()
out = {"config": {"vocab_size": V, "context_length": T, "n_layer": L, "d_model": C, "n_head": H, "n_kv_head": HKV, "d_ff": FF,
                  "value_embeddings": N, "norm_eps": eps},
       "batch": B, "ids": ids.flatten().tolist(), "targets": targets.flatten().tolist(), "loss": loss.item(),
       "parameters": {n: t.detach().flatten().tolist() for n, t in p.items()},
       "gradients": {n: t.grad.flatten().tolist() for n, t in p.items()}}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "value-residual-references.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path, "loss", loss.item())
