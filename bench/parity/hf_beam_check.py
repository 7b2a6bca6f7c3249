"""Beam search in tinygpt and in transformers' generate give the same beams.

Trains a small gpt2-style model (byte-level BPE with <|endoftext|>) a few
hundred steps on the text's sentences, each followed by <|endoftext|> (so
beams finish at different lengths and the stopping rules matter), exports it with `tinygpt export --format hf`, then for several beam
widths, length penalties, repetition penalties, n-gram bans and each
early_stopping rule ("never", true, false) runs `tinygpt sample --strategy
beam` and `model.generate(...)` with the same settings, and compares the best
beam's text. Then, for each rule, exports with `--config
configs/sample-beam.json --set sample.early_stopping=…`, checks that
generation_config.json carries num_beams, length_penalty and early_stopping,
and that `generate` with no arguments but the prompt (the exported
generation config) gives tinygpt's best beam. Prints one line per case and a summary.

A benchmark tool, not a dependency:  pip install torch transformers
    python3 bench/parity/hf_beam_check.py .build/release/tinygpt data/corpus.txt
"""
import json, os, re, subprocess, sys, tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="tinygpt-beam-")
    run_dir, hf_dir = os.path.join(work, "run"), os.path.join(work, "hf")
    data = os.path.join(work, "sentences.txt")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", open(corpus, encoding="utf-8").read()) if s.strip()]
    open(data, "w", encoding="utf-8").write("".join(s + "<|endoftext|>" for s in sentences))
    run(binary, "train", "--config", "configs/gpt2-style.json", "--data", data, "--out", run_dir,
        "--set", "model.n_layer=2", "--set", "model.d_model=64", "--set", "model.n_head=4", "--set", "model.n_kv_head=4", "--set", "model.context_length=64",
        "--set", "tokenizer.vocab_size=400", "--set", "tokenizer.special_tokens=[\"<|endoftext|>\"]", "--set", "train.max_steps=300", "--set", "train.eval_interval=300",
        "--set", "train.eval_steps=2", "--set", "train.warmup_steps=10", "--set", "train.batch_size=8")
    run(binary, "export", "--checkpoint", run_dir, "--format", "hf", "--out", hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    same = total = 0

    def ours_of(prompt, *settings):
        text = run(binary, "sample", "--checkpoint", run_dir, "--prompt", prompt, "--strategy", "beam", "--max-new-tokens", 24, *settings)
        return text[:-1] if text.endswith("\n") else text

    def theirs_of(hf_model, prompt, **settings):
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = hf_model.generate(ids, pad_token_id=tokenizer.eos_token_id, **settings)
        return prompt + tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    def compare(label, ours, theirs):
        nonlocal same, total
        total += 1
        same += ours == theirs
        print(f"{label}: {'identical' if ours == theirs else 'DIFFERENT'}" + ("" if ours == theirs else f"\n  ours:   {ours!r}\n  theirs: {theirs!r}"))

    rules = [("never", "never"), ("true", True), ("false", False)]
    rule_outputs = {}
    for prompt in ["The ", "It was a", "He"]:
        for width, length_penalty, repetition, ngram in [(1, 1.0, 1.0, 0), (2, 1.0, 1.0, 0), (4, 1.0, 1.0, 0), (4, 0.0, 1.0, 0),
                                                         (4, 2.0, 1.0, 0), (3, 1.0, 1.3, 0), (4, 1.0, 1.0, 2), (5, -0.5, 1.2, 3)]:
            for rule, theirs_rule in rules:
                ours = ours_of(prompt, "--beam-width", width, "--length-penalty", length_penalty, "--repetition-penalty", repetition,
                               "--no-repeat-ngram", ngram, "--early-stopping", rule)
                rule_outputs.setdefault((prompt, width, length_penalty, repetition, ngram), set()).add(ours)
                theirs = theirs_of(model, prompt, num_beams=width, do_sample=False, length_penalty=length_penalty,
                                   repetition_penalty=repetition, no_repeat_ngram_size=ngram, early_stopping=theirs_rule,
                                   max_new_tokens=24)
                compare(f"prompt {prompt!r} width {width} length_penalty {length_penalty} repetition {repetition} ngram {ngram} "
                        f"early_stopping {rule}", ours, theirs)
    differing = sum(len(outputs) > 1 for outputs in rule_outputs.values())
    # The exported generation config alone reproduces tinygpt's beam search.
    for rule, theirs_rule in rules:
        exported = os.path.join(work, f"hf-{rule}")
        run(binary, "export", "--checkpoint", run_dir, "--format", "hf", "--out", exported, "--config", "configs/sample-beam.json",
            "--set", "sample.length_penalty=2", "--set", "sample.max_new_tokens=24", "--set", f"sample.early_stopping={rule}")
        generation = json.load(open(os.path.join(exported, "generation_config.json")))
        assert (generation["num_beams"], generation["length_penalty"], generation["early_stopping"]) == (4, 2.0, theirs_rule), generation
        hf_model = AutoModelForCausalLM.from_pretrained(exported).eval()
        for prompt in ["It was a", "He"]:
            compare(f"exported generation_config.json, early_stopping {rule}, prompt {prompt!r}",
                    ours_of(prompt, "--beam-width", 4, "--length-penalty", 2, "--early-stopping", rule), theirs_of(hf_model, prompt))
    print(f"{same}/{total} cases give the same best beam; the stopping rule changes the best beam in {differing} of "
          f"{len(rule_outputs)} settings")
    sys.exit(0 if same == total else 1)


if __name__ == "__main__":
    main()
