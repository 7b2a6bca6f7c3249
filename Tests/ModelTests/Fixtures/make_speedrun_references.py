#!/usr/bin/env python3
"""Expected values for tinygpt's speed-run options, from PyTorch.

Writes speedrun-references.json next to this script, read by
Tests/ModelTests/SpeedRunReferenceTests.swift:

- relu2: torch.relu(x).square(), value and gradient of sum(w * y);
- softcap: c * torch.tanh(x / c) (Gemma 2's final_logit_softcapping), value and gradient;
- qk_norm: torch.nn.functional.rms_norm over each head's last dimension, no weight
  (modded-nanogpt's QK-norm), value and gradient, on (B, T, H, D) = (2, 5, 3, 6);
- muon: three steps of a small reference Muon written from the published
  formula (Keller Jordan 2024; modded-nanogpt's Muon and
  zeropower_via_newtonschulz5, in float32 rather than bfloat16) on the blocks'
  2-D weights, with torch.optim.AdamW on the rest (decay on matrices only), with
  fixed gradients and a changing learning rate.

Run from the repository root (needs torch, used only here):
    python3 Tests/ModelTests/Fixtures/make_speedrun_references.py
"""
import json
import os

import torch

torch.manual_seed(33)
out = {}


def pointwise(f, x):
    x = x.clone().requires_grad_(True)
    w = torch.randn(x.shape)
    y = f(x)
    (y * w).sum().backward()
    return {"shape": list(x.shape), "x": x.detach().flatten().tolist(), "w": w.flatten().tolist(),
            "y": y.detach().flatten().tolist(), "grad": x.grad.flatten().tolist()}


x = torch.randn(3, 37) * 2
x = x + torch.sign(x) * 0.05  # away from ReLU's kink
out["relu2"] = pointwise(lambda t: torch.relu(t).square(), x)
out["softcap"] = [dict(pointwise(lambda t, c=c: c * torch.tanh(t / c), torch.randn(3, 37) * spread), cap=c)
                  for c, spread in [(15.0, 30.0), (0.5, 1.0), (30.0, 3.0)]]
out["qk_norm"] = dict(pointwise(lambda t: torch.nn.functional.rms_norm(t, (t.shape[-1],), eps=1e-5), torch.randn(2, 5, 3, 6) * 3), eps=1e-5)


def newton_schulz(g, steps=5, eps=1e-7):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + eps)
    transposed = g.size(0) > g.size(1)
    if transposed:
        x = x.T
    for _ in range(steps):
        A = x @ x.T
        B = b * A + c * A @ A
        x = a * x + B @ x
    return x.T if transposed else x


names = {"blocks.0.attn.q.weight": (5, 3), "blocks.0.ffn.up.weight": (3, 7), "blocks.0.attn_norm.weight": (7,),
         "token_embedding.weight": (4, 3)}
start = {n: torch.randn(s) for n, s in names.items()}
grads = [{n: torch.randn(s) for n, s in names.items()} for _ in range(3)]
lrs, muon_ratio, momentum, beta1, beta2, decay = [0.01, 0.005, 0.002], 2.0, 0.95, 0.9, 0.99, 0.1
params = {n: torch.nn.Parameter(t.clone()) for n, t in start.items()}
hidden = [n for n in names if n.startswith("blocks.") and len(names[n]) == 2]
adamw = torch.optim.AdamW([{"params": [params["token_embedding.weight"]], "weight_decay": decay},
                           {"params": [params["blocks.0.attn_norm.weight"]], "weight_decay": 0.0}],
                          lr=lrs[0], betas=(beta1, beta2), eps=1e-8)
buffers = {n: torch.zeros(names[n]) for n in hidden}
steps = []
for lr, g in zip(lrs, grads):
    for n, p in params.items():
        p.grad = g[n].clone()
    for group in adamw.param_groups:
        group["lr"] = lr
    adamw.step()
    with torch.no_grad():
        for n in hidden:
            p = params[n]
            buffers[n].mul_(momentum).add_(p.grad)
            u = p.grad.add(buffers[n], alpha=momentum)  # Nesterov
            o = newton_schulz(u)
            o *= max(1, p.size(0) / p.size(1)) ** 0.5
            p.add_(o, alpha=-lr * muon_ratio)
    steps.append({n: p.detach().flatten().tolist() for n, p in params.items()})
out["muon"] = {"shapes": {n: list(s) for n, s in names.items()}, "start": {n: t.flatten().tolist() for n, t in start.items()},
               "grads": [{n: t.flatten().tolist() for n, t in g.items()} for g in grads], "lrs": lrs, "muon_lr_ratio": muon_ratio,
               "momentum": momentum, "beta1": beta1, "beta2": beta2, "weight_decay": decay, "steps": steps}

out["newton_schulz"] = [{"rows": r, "cols": c, "g": m.flatten().tolist(), "out": newton_schulz(m).flatten().tolist()}
                        for m in [torch.randn(6, 9), torch.randn(9, 6) * 10, torch.randn(1, 5), torch.randn(17, 17)]
                        for r, c in [tuple(m.shape)]]

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "speedrun-references.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
