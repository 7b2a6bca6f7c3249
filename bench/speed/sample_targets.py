#!/usr/bin/env python3
"""The generation target (>= 1.0x llama2.c's run.c) in one command.

Interleaved rounds: `tinygpt bench sample` (greedy, 256 tokens, stories15M
shape) for each given build, directly followed by llama2.c's run.c on a
random checkpoint of the same shape (bench/speed/llama2c_checkpoint.py), for vocab
512 and 32000 and each thread count (OMP_NUM_THREADS for run.c). Prints every
round and the median of each side with the ratio.

llama2.c is not part of this repository: clone it into a scratch folder and
build it there (`gcc -Ofast -march=native -fopenmp run.c -lm -o run`).

    python3 bench/speed/sample_targets.py --llama2c /work/scratch/llama2.c --build .build/release --build .build-avx2/release

A benchmark tool only: needs numpy (for the checkpoint), nothing builds or tests against it.
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


def run(cmd, env=None, cwd=ROOT):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"sample_targets: {' '.join(cmd)} failed:\n{out.stderr.strip()}")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llama2c", required=True, help="llama2.c checkout with a built `run`")
    p.add_argument("--build", action="append", help="build folder holding tinygpt (repeatable)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--vocab", type=int, nargs="+", default=[512, 32000])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    builds = args.build or [".build/release"]
    runc = os.path.join(args.llama2c, "run")
    tmp = tempfile.mkdtemp(prefix="sample_targets")
    files = {}
    for vocab in args.vocab:
        model, tok = os.path.join(tmp, f"model{vocab}.bin"), os.path.join(tmp, f"tok{vocab}.bin")
        run([sys.executable, os.path.join(ROOT, "bench", "speed", "llama2c_checkpoint.py"), "--vocab", str(vocab),
             "--out", model, "--tokenizer", tok])
        files[vocab] = (model, tok)
    results = {}
    for r in range(args.rounds):
        for vocab in args.vocab:
            for t in args.threads:
                row = []
                for build in builds:
                    out = run([os.path.join(build, "tinygpt"), "bench", "sample", "--threads", str(t), "--json",
                               "--set", f"model.vocab_size={vocab}"])
                    rate = json.loads(out.stdout.strip().splitlines()[-1])["tokens_per_s"]
                    results.setdefault((build, vocab, t), []).append(float(rate))
                    row.append(f"{build} {float(rate):.0f}")
                env = dict(os.environ, OMP_NUM_THREADS=str(t))
                out = run([runc, files[vocab][0], "-z", files[vocab][1], "-t", "0", "-n", "256", "-i", ""], env=env)
                m = re.search(r"achieved tok/s: ([\d.]+)", out.stderr)
                rate = float(m[1])
                results.setdefault(("run.c", vocab, t), []).append(rate)
                print(f"round {r + 1} vocab {vocab} {t} thread(s): " + ", ".join(row) + f", run.c {rate:.0f} tok/s", flush=True)
    print()
    print("| vocab | threads | " + " | ".join(f"tinygpt {b}" for b in builds) + " | llama2.c run.c |")
    print("|---|---|" + "---|" * (len(builds) + 1))
    for vocab in args.vocab:
        for t in args.threads:
            ref = statistics.median(results[("run.c", vocab, t)])
            cells = []
            for b in builds:
                v = statistics.median(results[(b, vocab, t)])
                cells.append(f"{v:.0f} ({v / ref:.2f}×)")
            print(f"| {vocab} | {t} | " + " | ".join(cells) + f" | {ref:.0f} |")


if __name__ == "__main__":
    main()
