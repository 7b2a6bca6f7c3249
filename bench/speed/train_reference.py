#!/usr/bin/env python3
"""PyTorch reference for `tinygpt bench train`: median ms per training step
of the same GPT (token + learned position embeddings, pre-LayerNorm blocks
without bias, causal self-attention with separate q/k/v/out linears, exact
GELU MLP, final LayerNorm, tied head, dropout 0) on random tokens, with
AdamW(betas=(0.9, 0.99), eps=1e-8, weight decay on matrices/embeddings only)
and gradient clipping at 1.0. A benchmark tool only, never a dependency.

    python3 bench/speed/train_reference.py --threads 1                # shakespeare-char
    python3 bench/speed/train_reference.py --threads 2 --baby         # baby-GPT shape

With --data FILE it instead trains on the text's characters with nanoGPT's
shakespeare-char recipe (90/10 split, random windows, warmup then cosine decay
of the learning rate to --min-lr, the 1/sqrt(2·n_layer) output projections)
and prints the train and validation loss, each the mean over --eval-steps
random batches, every --eval-interval steps and at the end:

    python3 bench/speed/train_reference.py --threads 2 --data ../shared/data/tinyshakespeare.txt
"""
import argparse
import math
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
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                # GPT-2's residual scaling: the projections that write into the
                # residual stream start 1/sqrt(2·n_layer) smaller.
                residual = name.endswith("out.weight") or name.endswith("down.weight")
                nn.init.normal_(p, std=0.02 / (2 * n_layer) ** 0.5 if residual else 0.02)

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
    p.add_argument("--data", help="train on this text file's characters and report losses instead of timing")
    p.add_argument("--max-steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--eval-interval", type=int, default=250)
    p.add_argument("--eval-steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=1337)
    a = p.parse_args()
    if a.baby:
        a.n_layer, a.n_head, a.d_model, a.context, a.batch = 6, 6, 384, 256, 8
    d_ff = a.d_ff or 4 * a.d_model

    torch.set_num_threads(a.threads)
    if a.data:
        return train_on_text(a, d_ff)
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
    print(f"pytorch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}) train step: batch {a.batch} × context {a.context}, {params:,} parameters, "
          f"{a.threads} thread{'' if a.threads == 1 else 's'}: median {statistics.median(times):.2f} ms (min {min(times):.2f}) over {a.steps} steps; "
          f"peak RSS {peak_mb:.1f} MB")


def train_on_text(a, d_ff):
    """nanoGPT's training loop for a character model, losses only."""
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    splits = {"train": data[:split], "val": data[split:]}
    torch.manual_seed(a.seed)
    model = GPT(len(chars), a.context, a.n_layer, a.n_head, a.d_model, d_ff)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.99), eps=1e-8)

    def batch(name):
        d = splits[name]
        ix = torch.randint(len(d) - a.context, (a.batch,))
        return (torch.stack([d[i:i + a.context] for i in ix]), torch.stack([d[i + 1:i + 1 + a.context] for i in ix]))

    def lr_at(step):  # nanoGPT's get_lr with lr_decay_iters = max_steps
        if step < a.warmup_steps:
            return a.lr * (step + 1) / (a.warmup_steps + 1)
        ratio = (step - a.warmup_steps) / max(1, a.max_steps - a.warmup_steps)
        return a.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, ratio))) * (a.lr - a.min_lr)

    @torch.no_grad()
    def evaluate(name):
        model.eval()
        loss = sum(model(*batch(name)).item() for _ in range(a.eval_steps)) / a.eval_steps
        model.train()
        return loss

    start = time.perf_counter()
    for step in range(a.max_steps + 1):
        if step % a.eval_interval == 0 or step == a.max_steps:
            print(f"step {step}: train loss {evaluate('train'):.4f}, val loss {evaluate('val'):.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        if step == a.max_steps:
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        model(*batch("train")).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


if __name__ == "__main__":
    main()
