"""Proof that tinygpt's prefix tuning and prompt tuning cross to PEFT.

For a gpt2-style (learned positions) and a llama-style (GQA, SwiGLU, RoPE)
model: train a small base with tinygpt, train prefix tuning (through the
reparameterisation MLP) and prompt tuning on it (`train --init-from BASE`),
export the base with `export --format hf` and the trained modules with
`export --format peft`, load them with PeftModel.from_pretrained, and compare
its logits with `tinygpt logits` on the tinygpt checkpoint (max abs and max
relative difference over random sequences). Bottleneck adapters have no PEFT
counterpart and are not checked here.

A benchmark tool, not a dependency:  pip install torch transformers peft
    python3 bench/parity/peft_prompt_check.py .build/release/tinygpt data/corpus.txt
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


SMALL = ["--set", "model.n_layer=2", "--set", "model.context_length=32", "--set", "train.batch_size=4",
         "--set", "train.eval_interval=40", "--set", "train.eval_steps=2", "--set", "train.log_interval=40",
         "--set", "train.warmup_steps=2"]
PRESETS = [
    ("gpt2-style", ["--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=4"]),
    ("llama-style", ["--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=2",
                     "--set", "model.d_ff=96", "--set", "model.tie_embeddings=false"]),
]
METHODS = [
    ("prefix_tuning", ["--set", "prefix_tuning.num_virtual_tokens=6", "--set", "prefix_tuning.encoder_hidden_size=24"]),
    ("prompt_tuning", ["--set", "prompt_tuning.num_virtual_tokens=5"]),
]


def main(binary, data):
    binary = os.path.abspath(binary)
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for n, (preset, sizes) in enumerate(PRESETS):
            base, hf_base = os.path.join(scratch, f"base{n}"), os.path.join(scratch, f"hf_base{n}")
            run(binary, "train", "--config", f"configs/{preset}.json", "--data", data, "--out", base, *SMALL, *sizes,
                "--set", "train.max_steps=40")
            run(binary, "export", "--checkpoint", os.path.join(base, "best"), "--format", "hf", "--out", hf_base)
            plain = AutoModelForCausalLM.from_pretrained(hf_base).eval()
            vocab = plain.config.vocab_size
            for method, settings in METHODS:
                ft, peft_dir = os.path.join(scratch, f"{method}{n}"), os.path.join(scratch, f"peft_{method}{n}")
                run(binary, "train", "--init-from", base, "--data", data, "--out", ft, *SMALL, "--set", "train.max_steps=40",
                    "--set", "train.lr=0.01", *settings)
                run(binary, "export", "--checkpoint", os.path.join(ft, "latest"), "--format", "peft", "--out", peft_dir,
                    "--base", hf_base)
                model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(hf_base), peft_dir).eval()
                worst_abs = worst_rel = moved = 0.0
                for length in (1, 9, 26):
                    ids = torch.randint(0, vocab, (length,)).tolist()
                    ours = tinygpt_logits(binary, os.path.join(ft, "latest"), ids)
                    with torch.no_grad():
                        x = torch.tensor([ids])
                        theirs = model(input_ids=x).logits[0]
                        untouched = plain(x).logits[0]
                    theirs = theirs[-len(ids):]  # prompt tuning's logits include the virtual positions
                    worst_abs = max(worst_abs, (theirs - ours).abs().max().item())
                    worst_rel = max(worst_rel, ((theirs - ours).abs().max() / theirs.abs().max()).item())
                    moved = max(moved, ((untouched - ours).abs().max() / untouched.abs().max()).item())
                ok = worst_rel <= TOLERANCE and moved > 10 * TOLERANCE
                failures += not ok
                print(f"{preset} {method}: PeftModel vs tinygpt max abs diff {worst_abs:.2e} (max rel {worst_rel:.2e}); "
                      f"the method moves logits by {moved:.2e} (rel) {'OK' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".build/release/tinygpt",
         sys.argv[2] if len(sys.argv) > 2 else "data/corpus.txt")
