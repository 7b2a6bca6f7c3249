#!/usr/bin/env python3
"""The int8 generation targets (>= 1.0x llama2.c's runq.c, >= 1.8x tinygpt's
own float32) in one command.

Interleaved rounds, for vocab 512 and 32000 and each thread count:
`tinygpt bench sample` with int8, int4 and float32 weights (float32 on the
per-token path and on the batched autograd path), then llama2.c's runq.c on a
random int8 checkpoint of the same shape (bench/speed/runq_checkpoint.py; runq.c's
OMP_NUM_THREADS = threads). Prints every round, then medians and ratios.

llama2.c is not part of this repository: clone it into a scratch folder and
build it there (`gcc -Ofast -march=native -fopenmp runq.c -lm -o runq`).

    python3 bench/speed/quant_targets.py --llama2c /work/scratch/llama2.c

A benchmark tool only: needs numpy, nothing builds or tests against it.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = [("int8", ["--weights", "int8"]), ("int4", ["--weights", "int4"]),
         ("float32", ["--weights", "float32"]), ("float32 batched", ["--weights", "float32", "--path", "batched"])]


def run(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"quant_targets: {' '.join(cmd)} failed:\n{out.stderr.strip()}")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llama2c", required=True, help="llama2.c checkout with a built `runq`")
    p.add_argument("--build", default=".build/release")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--vocab", type=int, nargs="+", default=[512, 32000])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="quant_targets")
    files = {}
    for vocab in args.vocab:
        model, tok = os.path.join(tmp, f"q{vocab}.bin"), os.path.join(tmp, f"tok{vocab}.bin")
        run([sys.executable, os.path.join(ROOT, "bench", "speed", "runq_checkpoint.py"), "--vocab", str(vocab), "--out", model])
        run([sys.executable, os.path.join(ROOT, "bench", "speed", "llama2c_checkpoint.py"), "--vocab", str(vocab),
             "--out", os.path.join(tmp, "unused.bin"), "--tokenizer", tok])
        files[vocab] = (model, tok)
    results = {}
    for r in range(args.rounds):
        for vocab in args.vocab:
            for t in args.threads:
                row = []
                for name, flags in KINDS:
                    out = run([os.path.join(args.build, "tinygpt"), "bench", "sample", "--threads", str(t), "--json",
                               "--set", f"model.vocab_size={vocab}"] + flags)
                    rate = float(json.loads(out.stdout.strip().splitlines()[-1])["tokens_per_s"])
                    results.setdefault((name, vocab, t), []).append(rate)
                    row.append(f"{name} {rate:.0f}")
                env = dict(os.environ, OMP_NUM_THREADS=str(t))
                out = run([os.path.join(args.llama2c, "runq"), files[vocab][0], "-z", files[vocab][1], "-t", "0",
                           "-n", "256", "-i", ""], env=env)
                rate = float(re.search(r"achieved tok/s: ([\d.]+)", out.stderr)[1])
                results.setdefault(("runq", vocab, t), []).append(rate)
                print(f"round {r + 1} vocab {vocab} {t} thread(s): " + ", ".join(row) + f", runq.c {rate:.0f} tok/s", flush=True)
    print()
    print("| vocab | threads | int8 | int8 / runq.c | int8 / float32 | int4 | float32 (per token) | float32 (batched) | runq.c |")
    print("|---|---|---|---|---|---|---|---|---|")
    for vocab in args.vocab:
        for t in args.threads:
            m = {k: statistics.median(results[(k, vocab, t)]) for k in ["int8", "int4", "float32", "float32 batched", "runq"]}
            rng = {k: (min(results[(k, vocab, t)]), max(results[(k, vocab, t)])) for k in m}
            cell = lambda k: f"{m[k]:.0f} ({rng[k][0]:.0f}–{rng[k][1]:.0f})"
            print(f"| {vocab} | {t} | {cell('int8')} | {m['int8'] / m['runq']:.2f}× | {m['int8'] / m['float32']:.2f}× | "
                  f"{cell('int4')} | {cell('float32')} | {cell('float32 batched')} | {cell('runq')} |")


if __name__ == "__main__":
    main()
