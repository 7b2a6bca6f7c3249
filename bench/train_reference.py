#!/usr/bin/env python3
"""PyTorch reference for `tinygpt bench train`: median ms per training step
of the same GPT (token + learned position embeddings, pre-LayerNorm blocks
without bias, causal self-attention with separate q/k/v/out linears, exact
GELU MLP, final LayerNorm, tied head, dropout 0) on random tokens, with
AdamW(betas=(0.9, 0.99), eps=1e-8, weight decay on matrices/embeddings only)
and gradient clipping at 1.0. A benchmark tool only, never a dependency.

    python3 bench/train_reference.py --threads 1                # shakespeare-char
    python3 bench/train_reference.py --threads 2 --baby         # baby-GPT shape
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d_model, n_head, d_ff):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(d_model, bias=False)
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.ln2 = nn.LayerNorm(d_model, bias=False)
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        b, t, c = x.shape
        h = self.ln1(x)
        heads = lambda y: y.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        a = F.scaled_dot_product_attention(heads(self.q(h)), heads(self.k(h)), heads(self.v(h)), is_causal=True)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, c))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, context, n_layer, n_head, d_model, d_ff):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_head, d_ff) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model, bias=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, targets):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.tokens.weight.t()  # tied head
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baby", action="store_true", help="baby-GPT shape: 6 layers, 6 heads, d_model 384, d_ff 1536, context 256, batch 8")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=None, help="default 4·d_model")
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.baby:
        a.n_layer, a.n_head, a.d_model, a.context, a.batch = 6, 6, 384, 256, 8
    d_ff = a.d_ff or 4 * a.d_model

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = GPT(a.vocab, a.context, a.n_layer, a.n_head, a.d_model, d_ff)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.99), eps=1e-8)
    times = []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(a.vocab, (a.batch, a.context))
        targets = torch.randint(a.vocab, (a.batch, a.context))
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(ids, targets).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    params = sum(p.numel() for p in model.parameters())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"pytorch {torch.__version__} train step: batch {a.batch} × context {a.context}, {params:,} parameters, "
          f"{a.threads} threads: median {statistics.median(times):.2f} ms (min {min(times):.2f}) over {a.steps} steps; "
          f"peak RSS {peak_mb:.1f} MB")


if __name__ == "__main__":
    main()
