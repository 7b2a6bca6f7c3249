"""Proof that `tinygpt export --format gguf` writes files llama.cpp runs as tinygpt does.

For each architecture (llama: the llama-style preset, GQA 6/3, tied, and a variant with biases,
an untied head and linear RoPE scaling ×2; gpt2: the gpt2-style preset with model.activation =
gelu_tanh, llama.cpp's GELU), train a few steps with tinygpt
on the given text (byte-level BPE with an <|endoftext|> end token), export with
`--type f32`, `f16` and `q8_0`, load each file with llama.cpp (the llama-cpp-python package)
and compare with tinygpt's float checkpoint (`tinygpt logits`):

- logits on three random sequences of 32 ids: max |difference| / max |logit|;
- the greedy continuation: llama.cpp continues a 16-id prompt greedily for 32 tokens, and
  tinygpt's argmax at every position of that sequence must pick the same next token
  (tinygpt's logits are causal, so one `logits` call checks every step);
- the tokenizer: llama.cpp's ids for a few texts equal `tinygpt tokenizer encode`'s.

llama.cpp keeps its KV cache in F16 by default; the check asks for F32 (type_k = type_v = 0)
so that an F32 file is compared with F32 arithmetic throughout. llama.cpp's GPT-2 GELU reads
an F16 table, so gpt2 logits differ at about 1e-4 even in F32.

A benchmark tool, not a dependency:  pip install llama-cpp-python numpy
    python3 bench/parity/gguf_llamacpp_check.py .build/release/tinygpt data/corpus.txt [--steps 60] [--keep DIR]
"""
import argparse, json, os, subprocess, sys, tempfile

import numpy as np
from llama_cpp import Llama

# max |difference| / max |logit| accepted per export type
TOLERANCE = {"f32": 2e-4, "f16": 5e-3, "q8_0": 5e-2}
TEXTS = ["The cat sat on the mat.", "Hello, world! 12345 and 67", "  two  spaces\tand\ttabs\n\nnewlines",
         "naïve café 🙂 中文", "end<|endoftext|>start"]


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def tinygpt_logits(binary, checkpoint, ids):
    return np.array(json.loads(run(binary, "logits", "--checkpoint", checkpoint, "--ids", " ".join(map(str, ids)))))


def llama_cpp(path, n_ctx):
    # One thread and an F32 KV cache (GGML_TYPE_F32 = 0): the file's own arithmetic, nothing rounded on the way.
    return Llama(model_path=path, n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=1, type_k=0, type_v=0, seed=0)


def their_logits(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)])


def their_greedy(llm, prompt, n):
    llm.reset()
    llm.eval(prompt)
    seq = list(prompt)
    for _ in range(n):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        seq.append(nxt)
        llm.eval([nxt])
    return seq


def check(binary, checkpoint, workdir, name, vocab, rng):
    results = []
    prompt = rng.integers(0, vocab, 16).tolist()
    sequences = [rng.integers(0, vocab, 32).tolist() for _ in range(3)]
    ours_by_sequence = [tinygpt_logits(binary, checkpoint, ids) for ids in sequences]
    best = os.path.join(checkpoint, "best")
    tokenizer = os.path.join(best if os.path.isdir(best) else os.path.join(checkpoint, "latest"), "tokenizer.json")
    for weight_type in ["f32", "f16", "q8_0"]:
        path = os.path.join(workdir, f"{name}-{weight_type}.gguf")
        run(binary, "export", "--checkpoint", checkpoint, "--format", "gguf", "--type", weight_type, "--out", path, "--force")
        llm = llama_cpp(path, 128)
        worst = 0.0
        for ids, ours in zip(sequences, ours_by_sequence):
            theirs = their_logits(llm, ids)
            worst = max(worst, float(np.abs(theirs - ours).max() / np.abs(ours).max()))
        greedy = their_greedy(llm, prompt, 32)
        ours = tinygpt_logits(binary, checkpoint, greedy)
        picks = [int(np.argmax(ours[t])) for t in range(len(prompt) - 1, len(greedy) - 1)]
        agree = sum(a == b for a, b in zip(picks, greedy[len(prompt):]))
        tokens_same = all(llm.tokenize(t.encode(), add_bos=False, special=True) ==
                          [int(x) for x in run(binary, "tokenizer", "encode", "--tokenizer", tokenizer, "--text", t).split()]
                          for t in TEXTS)
        ok = worst <= TOLERANCE[weight_type] and (weight_type != "f32" or agree == 32) and tokens_same
        line = (f"{name} {weight_type:5s} {os.path.getsize(path) / 1e6:6.2f} MB  logits max rel err {worst:.2e} "
                f"(tolerance {TOLERANCE[weight_type]:.0e})  greedy {agree}/32 tokens identical  "
                f"tokenizer {'identical' if tokens_same else 'DIFFERENT'}  {'ok' if ok else 'FAIL'}")
        print(line, flush=True)
        results.append(ok)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary"); parser.add_argument("data")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--keep", help="work in this directory (kept) instead of a temporary one")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    workdir = args.keep or tempfile.mkdtemp(prefix="gguf-llamacpp-")
    os.makedirs(workdir, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    presets = {"llama": ("llama-style.json", []),
               "llama-bias": ("llama-style.json", ["--set", "model.bias=true", "--set", "model.tie_embeddings=false",
                                                   "--set", 'model.rope_scaling={"rope_type":"linear","factor":2}']),
               "gpt2": ("gpt2-style.json", ["--set", "model.activation=gelu_tanh"])}
    rng = np.random.default_rng(0)
    results = []
    for name, (preset, extra) in presets.items():
        checkpoint = os.path.join(workdir, f"run-{name}")
        run(binary, "train", "--config", os.path.join(here, "..", "..", "configs", preset), "--data", args.data, "--out", checkpoint, "--force",
            "--set", f"train.max_steps={args.steps}", "--set", "train.warmup_steps=10", "--set", f"train.eval_interval={args.steps}",
            "--set", "train.eval_steps=2", "--set", "tokenizer.special_tokens=<|endoftext|>", *extra)
        vocab = json.load(open(os.path.join(checkpoint, "latest", "config.json")))["model"]["vocab_size"]
        results += check(binary, checkpoint, workdir, name, vocab, rng)
    print(f"{sum(results)}/{len(results)} ok", flush=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
