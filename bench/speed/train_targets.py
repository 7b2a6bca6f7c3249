#!/usr/bin/env python3
"""The training targets of docs/benchmarks.md in one command.

Speed: `tinygpt bench train` and `bench/speed/train_reference.py` (PyTorch, the same
model, batch, AdamW and clipping) run in interleaved pairs, each tinygpt run
directly followed by PyTorch on the same shape and thread count, so both see
the same machine. Reported per shape and thread count: every pair, the ratio
of the two sides' median-of-medians against the target, peak RSS, and the
floor (the step's FLOPs over numpy's best GFLOP/s on the transformer shapes).

Loss (with --loss FILE): the shakespeare-char preset trained for its 2000
steps once per seed, validation loss at the end against the ≤ 1.88 target;
--loss-reference adds one PyTorch run of the same recipe.

    swift build -c release
    python3 bench/speed/train_targets.py                              # speed, ~4 min
    python3 bench/speed/train_targets.py --rounds 0 --loss ../shared/data/tinyshakespeare.txt
    python3 bench/speed/train_targets.py --tinygpt .build-avx2/release/tinygpt --reference-isa avx2   # an AVX2 machine

--reference-isa avx2 caps PyTorch at the ISA of an AVX2 build, as on an AVX2
machine: ATEN_CPU_CAPABILITY=avx2 (its own kernels), MKL_ENABLE_INSTRUCTIONS=AVX2,
ONEDNN_MAX_CPU_ISA=AVX2 and OPENBLAS_CORETYPE=Haswell (numpy's floor).

A benchmark tool only: needs torch and numpy, nothing builds or tests against it.
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
TINYGPT = os.path.join(ROOT, ".build", "release", "tinygpt")
BENCH = os.path.join(ROOT, "bench", "speed")
PRESET = os.path.join(ROOT, "configs", "shakespeare-char.json")

# name, tinygpt flags, PyTorch flags, steps (tinygpt, PyTorch warmup), shape, speed target by thread count (issue 13)
SHAPES = {
    "shakespeare-char": ([], [], 30, 3, dict(layers=4, d=128, ff=512, context=64, batch=12, vocab=65), {2: 0.8, 1: 0.9}),
    "baby-GPT": (["--set", "model.n_layer=6", "--set", "model.n_head=6", "--set", "model.d_model=384",
                  "--set", "model.d_ff=1536", "--set", "model.context_length=256", "--set", "train.batch_size=8"],
                 ["--baby"], 8, 2, dict(layers=6, d=384, ff=1536, context=256, batch=8, vocab=65), {2: 1.0, 1: 1.0}),
}


REFERENCE_ENV = dict(os.environ)
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "OPENBLAS_CORETYPE": "Haswell"}


def run(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"train_targets: {' '.join(cmd)} failed with status {out.returncode}:\n{out.stderr.strip()}")
    return out.stdout


def step_flops(s):
    """6·N·tokens for the matmul weights (tied head included) plus causal attention."""
    weights = s["layers"] * (4 * s["d"] ** 2 + 2 * s["d"] * s["ff"]) + s["vocab"] * s["d"]
    tokens = s["batch"] * s["context"]
    attention = 6 * s["batch"] * s["context"] ** 2 * s["d"] * s["layers"]  # QKᵀ and PV, half square, ×3 for backward
    return 6 * weights * tokens + attention


def ceiling(threads):
    """numpy's best GFLOP/s over the transformer-sized shapes (768 rows)."""
    lines = run([sys.executable, os.path.join(BENCH, "matmul_reference.py"), "--threads", str(threads), "--json"],
                env=REFERENCE_ENV).splitlines()
    rates = [json.loads(l) for l in lines if l.startswith("{")]
    return max(r["gflops"] for r in rates if r["m"] == 768)


def pair(name, threads):
    ours_flags, torch_flags, steps, warmup, _, _ = SHAPES[name]
    ours = json.loads(run([TINYGPT, "bench", "train", *ours_flags, "--threads", str(threads), "--steps", str(steps), "--json"]))
    text = run([sys.executable, os.path.join(BENCH, "train_reference.py"), *torch_flags, "--threads", str(threads),
                "--steps", str(steps), "--warmup", str(warmup)], env=REFERENCE_ENV)
    m = re.search(r"median ([\d.]+) ms \(min ([\d.]+)\).*peak RSS ([\d.]+) MB", text)
    if not m:
        sys.exit(f"train_targets: cannot read train_reference.py's output: {text.strip()}")
    theirs = dict(median_ms=float(m[1]), min_ms=float(m[2]), peak_rss_mb=float(m[3]))
    return ours, theirs


def speed(rounds, thread_counts, baby_rounds):
    results = {}
    plan = [(r, name) for r in range(rounds) for name in ["shakespeare-char"]]
    plan += [(r, "baby-GPT") for r in range(baby_rounds)]
    for _, name in plan:
        for t in thread_counts:
            ours, theirs = pair(name, t)
            results.setdefault((name, t), []).append((ours, theirs))
            print(f"{name:17} {t} threads: tinygpt {ours['median_ms']:8.2f} ms, PyTorch {theirs['median_ms']:8.2f} ms, "
                  f"ratio {ours['median_ms'] / theirs['median_ms']:.2f}", flush=True)
    print()
    ceilings = {t: ceiling(t) for t in thread_counts}
    print("| shape | threads | tinygpt median of medians | PyTorch | ratio | target | floor | peak RSS tinygpt / PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, t), pairs in results.items():
        ours = statistics.median(o["median_ms"] for o, _ in pairs)
        theirs = statistics.median(p["median_ms"] for _, p in pairs)
        target = SHAPES[name][5].get(t, SHAPES[name][5][1])
        floor_ms = step_flops(SHAPES[name][4]) / (ceilings[t] * 1e9) * 1e3
        rss = (max(o["peak_rss_mb"] for o, _ in pairs), max(p["peak_rss_mb"] for _, p in pairs))
        verdict = "met" if ours / theirs <= target else "not met"
        print(f"| {name} | {t} | {ours:.2f} ms | {theirs:.2f} ms | {ours / theirs:.2f}× ({verdict}) | ≤ {target}× "
              f"| {floor_ms:.1f} ms ({floor_ms / theirs:.2f}×) | {rss[0]:.0f} / {rss[1]:.0f} MB |")
    print(f"\nfloor: step FLOPs over numpy's best GFLOP/s on 768-row shapes: "
          + ", ".join(f"{ceilings[t]:.0f} on {t} threads" for t in thread_counts))


def loss(data, seeds, reference, threads):
    preset = json.load(open(PRESET))["train"]
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            out = os.path.join(scratch, f"seed{seed}")
            proc = subprocess.run([TINYGPT, "train", "--config", PRESET, "--data", data, "--out", out,
                                   "--set", f"train.seed={seed}"], cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"train_targets: training failed with status {proc.returncode}: {proc.stderr.strip()}")
            evals = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if '"val_loss"' in l]
            last = evals[-1]
            verdict = "met" if last["val_loss"] <= 1.88 else "not met"
            print(f"tinygpt seed {seed}: val loss {last['val_loss']:.4f} at step {last['step']} (≤ 1.88: {verdict})", flush=True)
    if reference:
        text = run([sys.executable, os.path.join(BENCH, "train_reference.py"), "--threads", str(threads), "--data", data,
                    "--lr", str(preset["lr"]), "--min-lr", str(preset["min_lr"])])
        print("PyTorch, same recipe: " + text.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="interleaved shakespeare-char rounds (0 skips speed)")
    p.add_argument("--baby-rounds", type=int, default=1, help="interleaved baby-GPT rounds")
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--loss", metavar="FILE", help="also train the shakespeare-char preset on FILE")
    p.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2])
    p.add_argument("--loss-reference", action="store_true", help="with --loss: one PyTorch run of the same recipe")
    p.add_argument("--tinygpt", metavar="PATH", help="the tinygpt binary (default .build/release/tinygpt), "
                   "e.g. .build-avx2/release/tinygpt for an AVX2 build")
    p.add_argument("--reference-isa", choices=["default", "avx2"], default="default",
                   help="cap PyTorch and numpy at AVX2, as on an AVX2 machine (for an AVX2 build)")
    a = p.parse_args()
    if a.reference_isa == "avx2":
        REFERENCE_ENV.update(AVX2_ENV)
    global TINYGPT
    if a.tinygpt:
        TINYGPT = os.path.abspath(a.tinygpt)
    if a.loss_reference and not a.loss:
        p.error("--loss-reference needs --loss FILE")
    if not os.access(TINYGPT, os.X_OK):
        sys.exit(f"train_targets: {TINYGPT} not found; run `swift build -c release` first")
    if a.rounds > 0:
        speed(a.rounds, a.threads, a.baby_rounds)
    if a.loss:
        # tinygpt trains with all cores (the preset's threads = 0); PyTorch gets the first --threads.
        loss(os.path.abspath(a.loss), a.seeds, a.loss_reference, a.threads[0])


if __name__ == "__main__":
    main()
