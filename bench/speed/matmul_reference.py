#!/usr/bin/env python3
"""numpy (OpenBLAS) float32 matmul GFLOP/s on the shapes `tinygpt bench matmul` uses.

A benchmark yardstick only: nothing builds or tests against it.

Thread count: OpenBLAS reads OPENBLAS_NUM_THREADS when numpy is imported, so
`--threads N` sets it (and OMP/MKL equivalents) before importing numpy.
Without --threads, OpenBLAS uses all cores. Examples:

    python3 bench/speed/matmul_reference.py                 # all cores
    python3 bench/speed/matmul_reference.py --threads 1 --json

Timing matches the Swift bench: one warm-up call, then repeated calls for at
least ~0.2 s per case (and at least --repeat timed runs), reporting the BEST
time. Operands are pre-made with the stored layout of each variant (ab: A m×k,
B k×n; abt: B stored n×k; atb: A stored k×m), so `a.T` / `b.T` are views and
OpenBLAS sees a transposed operand, never a copy.
"""
import argparse
import json
import os
import sys
import time

SQUARE = [256, 512, 1024]
TRANSFORMER = [(768, 128, 512), (768, 512, 128), (768, 128, 65), (128, 768, 128)]  # (m, k, n)
VARIANTS = ["ab", "abt", "atb"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="OpenBLAS threads, 1...64 (default: all cores)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--repeat", type=int, default=5, help="minimum timed runs per case")
    parser.add_argument("--cold", action="store_true",
                        help="before each timed run, write 64 MB elsewhere so the operands start outside the caches")
    parser.add_argument("--shape", action="append", metavar="MxKxN", help="only this product (repeatable)")
    args = parser.parse_args()
    if args.threads is not None and not 1 <= args.threads <= 64:
        sys.exit(f"--threads must be in 1...64, got {args.threads}")
    if args.repeat < 1:
        sys.exit(f"--repeat must be at least 1, got {args.repeat}")
    threads = args.threads or os.cpu_count()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np  # after the environment is set, so the thread count sticks

    rng = np.random.default_rng(0)
    shapes = [(s, s, s) for s in SQUARE] + TRANSFORMER
    if args.shape:
        try:
            shapes = [tuple(int(x) for x in text.split("x")) for text in args.shape]
            assert all(len(t) == 3 and all(1 <= x <= 16384 for x in t) for t in shapes)
        except (ValueError, AssertionError):
            sys.exit(f"--shape must be MxKxN with sizes in 1...16384, got {args.shape}")
    junk = np.zeros(16 << 20, dtype=np.float32)  # 64 MB, twice the L3 here
    if not args.json:
        print(f"numpy {np.__version__}, threads={threads}, best of >= {args.repeat} runs and >= 0.2 s"
              + (", caches evicted before each run" if args.cold else ""))
        print(f"{'variant':<8}{'m':>6}{'k':>6}{'n':>6}{'GFLOP/s':>10}")
    for (m, k, n) in shapes:
        for variant in VARIANTS:
            a = rng.random((k, m) if variant == "atb" else (m, k), dtype=np.float32)
            b = rng.random((n, k) if variant == "abt" else (k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            op_a = a.T if variant == "atb" else a
            op_b = b.T if variant == "abt" else b
            np.matmul(op_a, op_b, out=c)  # warm-up
            best = float("inf")
            runs = 0
            start = time.perf_counter()
            while runs < args.repeat or time.perf_counter() - start < 0.2:
                if args.cold:
                    junk[::16] += 1  # one write per cache line
                t0 = time.perf_counter()
                np.matmul(op_a, op_b, out=c)
                best = min(best, time.perf_counter() - t0)
                runs += 1
            gflops = 2.0 * m * n * k / best / 1e9
            if args.json:
                print(json.dumps({"op": "matmul", "variant": variant, "m": m, "k": k, "n": n,
                                  "threads": threads, "gflops": round(gflops, 1)}, separators=(",", ":")))
            else:
                print(f"{variant:<8}{m:>6}{k:>6}{n:>6}{gflops:>10.1f}")


if __name__ == "__main__":
    main()
