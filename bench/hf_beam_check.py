"""Beam search in tinygpt and in transformers' generate give the same beams.

Trains a small gpt2-style model (byte-level BPE with <|endoftext|>) a few
steps, exports it with `tinygpt export --format hf` (whose
generation_config.json carries num_beams, length_penalty and
early_stopping="never"), then for several beam widths, length penalties,
repetition penalties and n-gram bans runs `tinygpt sample --strategy beam`
and `model.generate(...)` with the same settings, and compares the best
beam's text. Prints one line per case and a summary.

A benchmark tool, not a dependency:  pip install torch transformers
    python3 bench/hf_beam_check.py .build/release/tinygpt data/corpus.txt
"""
import os, subprocess, sys, tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def main():
    binary, data = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="tinygpt-beam-")
    run_dir, hf_dir = os.path.join(work, "run"), os.path.join(work, "hf")
    run(binary, "train", "--config", "configs/gpt2-style.json", "--data", data, "--out", run_dir,
        "--set", "model.n_layer=2", "--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=4", "--set", "model.context_length=64",
        "--set", "tokenizer.vocab_size=400", "--set", "tokenizer.special_tokens=[\"<|endoftext|>\"]", "--set", "train.max_steps=60", "--set", "train.eval_interval=60",
        "--set", "train.eval_steps=2", "--set", "train.warmup_steps=10", "--set", "train.batch_size=8")
    run(binary, "export", "--checkpoint", run_dir, "--format", "hf", "--out", hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    same = total = 0
    for prompt in ["The ", "It was a", "\n"]:
        for width, length_penalty, repetition, ngram in [(1, 1.0, 1.0, 0), (2, 1.0, 1.0, 0), (4, 1.0, 1.0, 0), (4, 0.0, 1.0, 0),
                                                         (4, 2.0, 1.0, 0), (3, 1.0, 1.3, 0), (4, 1.0, 1.0, 2), (5, -0.5, 1.2, 3)]:
            ours = run(binary, "sample", "--checkpoint", run_dir, "--prompt", prompt, "--strategy", "beam",
                       "--beam-width", width, "--length-penalty", length_penalty, "--repetition-penalty", repetition,
                       "--no-repeat-ngram", ngram, "--max-new-tokens", 24)
            ours = ours[:-1] if ours.endswith("\n") else ours
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            with torch.no_grad():
                out = model.generate(ids, num_beams=width, do_sample=False, length_penalty=length_penalty,
                                     repetition_penalty=repetition, no_repeat_ngram_size=ngram, early_stopping="never",
                                     max_new_tokens=24, pad_token_id=tokenizer.eos_token_id)
            theirs = prompt + tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
            total += 1
            same += ours == theirs
            print(f"prompt {prompt!r} width {width} length_penalty {length_penalty} repetition {repetition} ngram {ngram}: "
                  f"{'identical' if ours == theirs else 'DIFFERENT'}" + ("" if ours == theirs else f"\n  ours:   {ours!r}\n  theirs: {theirs!r}"))
    print(f"{same}/{total} cases give the same best beam")
    sys.exit(0 if same == total else 1)


if __name__ == "__main__":
    main()
