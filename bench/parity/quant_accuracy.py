#!/usr/bin/env python3
"""Accuracy of quantized checkpoints against their float32 source, in one command.

For each given float checkpoint (or run directory): `tinygpt quantize` to
int8 (default group size) and int4 (group 32), then for all three
  - perplexity with `tinygpt eval --data FILE` (same windows for all),
  - 256 greedy tokens after a fixed prompt, compared with the float32 ones
    (both continuations re-encoded with the checkpoint's tokenizer): tokens
    equal position by position, and the first position that differs.

    python3 bench/parity/quant_accuracy.py --data /tmp/slice.txt runs/llama-300 runs/gpt2-300

A benchmark tool only; nothing builds or tests against it.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tinygpt(build, *args):
    out = subprocess.run([os.path.join(build, "tinygpt"), *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"quant_accuracy: tinygpt {' '.join(args)} failed:\n{out.stderr.strip()}")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--data", required=True)
    p.add_argument("--prompt", default="The ")
    p.add_argument("--build", default=".build/release")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="quant_accuracy")
    print("| checkpoint | weights | perplexity | relative to float32 | greedy tokens equal (of 256) | first difference |")
    print("|---|---|---|---|---|---|")
    for ckpt in args.checkpoints:
        ckpt = os.path.abspath(ckpt)
        for sub in ["", "best", "latest"]:
            if os.path.exists(os.path.join(ckpt, sub, "model.safetensors")):
                ckpt = os.path.join(ckpt, sub)
                break
        tok = os.path.join(ckpt, "tokenizer.json")
        name = os.path.basename(os.path.dirname(ckpt)) if os.path.basename(ckpt) in ("best", "latest") else os.path.basename(ckpt)
        variants = [("float32", ckpt)]
        for fmt, extra in [("int8", []), ("int4 g32", ["--format", "int4", "--group-size", "32"])]:
            out = os.path.join(tmp, f"{name}-{fmt.replace(' ', '-')}")
            tinygpt(args.build, "quantize", "--checkpoint", ckpt, "--out", out, *extra)
            variants.append((fmt, out))
        base_ppl, base_ids = None, None
        for fmt, path in variants:
            ev = json.loads(tinygpt(args.build, "eval", "--checkpoint", path, "--data", args.data, "--json").stdout)
            ppl = ev["perplexity"]
            text = tinygpt(args.build, "sample", "--checkpoint", path, "--prompt", args.prompt, "--strategy", "greedy",
                           "--max-new-tokens", "256", "--no-stream").stdout
            continuation = text[len(args.prompt):].rstrip("\n")
            ids = json.loads(tinygpt(args.build, "tokenizer", "encode", "--tokenizer", tok, "--text", continuation, "--json").stdout)
            ids = ids["ids"] if isinstance(ids, dict) else ids
            if base_ppl is None:
                base_ppl, base_ids = ppl, ids
                print(f"| {name} | float32 | {ppl:.3f} | — | — | — |", flush=True)
                continue
            n = min(len(ids), len(base_ids), 256)
            equal = sum(1 for a, b in zip(ids[:n], base_ids[:n]) if a == b)
            first = next((i for i in range(n) if ids[i] != base_ids[i]), None)
            print(f"| {name} | {fmt} | {ppl:.3f} | {100 * (ppl / base_ppl - 1):+.2f}% | {equal} (of {n}) | "
                  f"{'none' if first is None else first} |", flush=True)


if __name__ == "__main__":
    main()
