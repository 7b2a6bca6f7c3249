#!/usr/bin/env python3
"""The matmul target (>= 0.9x numpy) in one command: interleaved rounds of
`tinygpt bench matmul --json` for each given build and of
bench/speed/matmul_reference.py, per thread count; prints the best GFLOP/s of each
side over the rounds and the ratio to numpy for every shape and variant.

    python3 bench/speed/matmul_targets.py --build .build/release --build .build-avx2/release --threads 1 2 --rounds 2
    python3 bench/speed/matmul_targets.py --build .build/release --reference-isa avx512   # numpy on AVX-512 kernels

numpy's OpenBLAS picks its kernels from the CPU, and not always the widest: on
AMD Zen 4/5 (AVX-512) the scipy-openblas wheel runs its Haswell (AVX2) kernels.
--reference-isa names the reference's ISA (OPENBLAS_CORETYPE Haswell or
SkylakeX), so that an AVX2 build is compared with AVX2 numpy and an AVX-512
build with AVX-512 numpy; the table's header says which core OpenBLAS ran.

A benchmark tool only: needs numpy, nothing builds or tests against it.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


OPENBLAS_CORE = {"avx2": "Haswell", "avx512": "SkylakeX"}


def lines(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"matmul_targets: {' '.join(cmd)} failed:\n{out.stderr.strip()}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", action="append", help="build folder holding tinygpt (repeatable)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--shape", action="append", default=[], help="MxKxN (repeatable; default: the bench's shapes)")
    p.add_argument("--reference-isa", choices=["default", "avx2", "avx512"], default="default",
                   help="numpy's OpenBLAS kernels: its own choice (default), Haswell (avx2) or SkylakeX (avx512)")
    args = p.parse_args()
    env = dict(os.environ)
    if args.reference_isa != "default":
        env["OPENBLAS_CORETYPE"] = OPENBLAS_CORE[args.reference_isa]
    probe = subprocess.run([sys.executable, "-c", "import numpy as np; a = np.ones((64, 64), np.float32); a @ a"],
                           capture_output=True, text=True, env=dict(env, OPENBLAS_VERBOSE="2"))
    core = next((l.split(":", 1)[1].strip() for l in probe.stderr.splitlines() if l.startswith("Core:")), "?")
    builds = args.build or [".build/release"]
    shapes = sum((["--shape", s] for s in args.shape), [])
    for threads in args.threads:
        best = {}  # (side, variant, m, k, n) -> gflops
        kernels = {}
        for _ in range(args.rounds):
            for build in builds:
                for r in lines([os.path.join(build, "tinygpt"), "bench", "matmul", "--json", "--threads", str(threads)] + shapes):
                    key = (build, r["variant"], r["m"], r["k"], r["n"])
                    best[key] = max(best.get(key, 0), r["gflops"])
                    kernels[build] = r.get("kernel", "?")
            for r in lines([sys.executable, "bench/speed/matmul_reference.py", "--json", "--threads", str(threads)] + shapes, env=env):
                key = ("numpy", r["variant"], r["m"], r["k"], r["n"])
                best[key] = max(best.get(key, 0), r["gflops"])
        print(f"threads={threads}, best of {args.rounds} interleaved rounds, GFLOP/s (ratio to numpy; OpenBLAS core {core})")
        header = "| variant | m | k | n | numpy | " + " | ".join(f"{b} ({kernels[b]})" for b in builds) + " |"
        print(header)
        print("|" + "---|" * (5 + len(builds)))
        for key in sorted(k for k in best if k[0] == "numpy"):
            _, variant, m, k, n = key
            ref = best[key]
            cells = [f"{best[(b, variant, m, k, n)]:.1f} ({best[(b, variant, m, k, n)] / ref:.2f}x)" for b in builds]
            print(f"| {variant} | {m} | {k} | {n} | {ref:.1f} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
