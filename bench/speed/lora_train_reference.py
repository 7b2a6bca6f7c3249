#!/usr/bin/env python3
"""PyTorch + PEFT reference for LoRA fine-tuning speed: median ms per training
step and peak RSS of a transformers model (a `tinygpt export --format hf`
directory), fully fine-tuned or with PEFT LoRA adapters, on random tokens,
with AdamW(betas=(0.9, 0.99), eps=1e-8, weight decay 0) and gradient clipping
at 1.0 (tinygpt's defaults, except weight decay). A benchmark tool only, never
a dependency: pip install torch transformers peft.

    tinygpt export --checkpoint BASE --format hf --out base-hf
    python3 bench/speed/lora_train_reference.py base-hf --threads 2                 # full fine-tuning
    python3 bench/speed/lora_train_reference.py base-hf --threads 2 --lora c_attn,attn.c_proj --rank 8 --alpha 16

Run full and LoRA as separate processes: peak RSS is per process.
"""
import argparse
import resource
import statistics
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--lora", help="comma-separated PEFT target_modules; omitted: full fine-tuning")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(a.model)
    if a.lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0,
                                                 target_modules=a.lora.split(","), task_type="CAUSAL_LM",
                                                 fan_in_fan_out=model.config.model_type == "gpt2"))
    model.train()
    # Dropout off, as the tinygpt runs compared (model.dropout 0 in the gpt2-style preset).
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    trainable = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0)
    vocab, context = model.config.vocab_size, model.config.max_position_embeddings
    times = []
    for step in range(a.steps):
        ids = torch.randint(0, vocab, (a.batch, context))
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        times.append((time.perf_counter() - start) * 1000)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'lora ' + a.lora if a.lora else 'full'}: {sum(q.numel() for q in trainable):,} trainable parameters; "
          f"median {statistics.median(times[a.warmup:]):.1f} ms/step over steps {a.warmup + 1}-{a.steps}; "
          f"peak RSS {rss:.0f} MB; torch {torch.__version__}, {a.threads} threads")


if __name__ == "__main__":
    main()
