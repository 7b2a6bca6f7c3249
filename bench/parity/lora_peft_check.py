"""Proof that tinygpt's LoRA adapters cross to PEFT.

For a gpt2-style and a llama-style (GQA, SwiGLU, RoPE) model: train a small
base with tinygpt, train LoRA adapters on it (`train --init-from BASE` with a
lora section; every target the family has), then
  - export the base with `export --format hf`, the adapters with
    `export --format peft`, load them with PeftModel.from_pretrained, and
  - export the adapter checkpoint with `export --format hf` (merged),
and compare both models' logits with `tinygpt logits` on the adapter
checkpoint (max relative error over random sequences).

A benchmark tool, not a dependency:  pip install torch transformers peft
    python3 bench/parity/lora_peft_check.py .build/release/tinygpt data/corpus.txt
"""
import json, os, subprocess, sys, tempfile

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

torch.manual_seed(0)
TOLERANCE = 1e-4


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def tinygpt_logits(binary, checkpoint, ids):
    return torch.tensor(json.loads(run(binary, "logits", "--checkpoint", checkpoint, "--ids", " ".join(map(str, ids)))))


def relative_error(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


SMALL = ["--set", "model.n_layer=2", "--set", "model.context_length=32", "--set", "train.batch_size=4",
         "--set", "train.eval_interval=40", "--set", "train.eval_steps=2", "--set", "train.log_interval=40",
         "--set", "train.warmup_steps=2"]
CASES = [
    ("gpt2-style", ["--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=4"],
     "q,k,v,o,up,down"),
    ("gpt2-style", ["--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=4"],
     "q,v"),
    ("llama-style", ["--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=2",
                     "--set", "model.d_ff=96", "--set", "model.tie_embeddings=false"],
     "q,k,v,o,gate,up,down"),
]


def main(binary, data):
    binary = os.path.abspath(binary)
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for n, (preset, sizes, targets) in enumerate(CASES):
            base, ft = os.path.join(scratch, f"base{n}"), os.path.join(scratch, f"ft{n}")
            run(binary, "train", "--config", f"configs/{preset}.json", "--data", data, "--out", base, *SMALL, *sizes,
                "--set", "train.max_steps=40")
            run(binary, "train", "--init-from", base, "--data", data, "--out", ft, *SMALL, "--set", "train.max_steps=40",
                "--set", "train.lr=0.01", "--set", "lora.rank=4", "--set", "lora.alpha=8", "--set", "lora.dropout=0.05",
                "--set", f"lora.targets={targets}")
            hf_base, peft_dir, merged_dir = (os.path.join(scratch, f"{k}{n}") for k in ("hf_base", "peft", "merged"))
            run(binary, "export", "--checkpoint", os.path.join(base, "best"), "--format", "hf", "--out", hf_base)
            run(binary, "export", "--checkpoint", os.path.join(ft, "latest"), "--format", "peft", "--out", peft_dir,
                "--base", hf_base)
            run(binary, "export", "--checkpoint", os.path.join(ft, "latest"), "--format", "hf", "--out", merged_dir)
            peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(hf_base), peft_dir).eval()
            merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
            plain = AutoModelForCausalLM.from_pretrained(hf_base).eval()
            vocab = plain.config.vocab_size
            worst_peft = worst_merged = 0.0
            moved = 0.0
            for _ in range(3):
                ids = torch.randint(0, vocab, (24,)).tolist()
                ours = tinygpt_logits(binary, os.path.join(ft, "latest"), ids)
                with torch.no_grad():
                    x = torch.tensor([ids])
                    theirs = peft_model(x).logits[0]
                    theirs_merged = merged(x).logits[0]
                    untouched = plain(x).logits[0]
                worst_peft = max(worst_peft, relative_error(theirs, ours))
                worst_merged = max(worst_merged, relative_error(theirs_merged, ours))
                moved = max(moved, relative_error(untouched, ours))
            ok = worst_peft <= TOLERANCE and worst_merged <= TOLERANCE and moved > 10 * TOLERANCE
            failures += not ok
            print(f"{preset} targets {targets}: PeftModel vs tinygpt max rel err {worst_peft:.2e}; "
                  f"merged hf vs tinygpt {worst_merged:.2e}; adapters move logits by {moved:.2e} (rel) "
                  f"{'OK' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".build/release/tinygpt",
         sys.argv[2] if len(sys.argv) > 2 else "data/corpus.txt")
