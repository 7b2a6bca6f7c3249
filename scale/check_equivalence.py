#!/usr/bin/env python3
"""Shows that scale/train_ddp.py trains exactly as tinygpt does, and that its
result comes back. For each family (GPT-2, LLaMA) it trains a small tinygpt
model briefly, exports it, and then checks:

  config   the script's config defaults equal tinygpt's (`tinygpt info` resolved config)
  tokens   the exported tokenizer.json through HF `tokenizers` gives tinygpt's ids
           for both splits (the run's tokens.bin)
  (a)      1 process, same exported weights, same batches: the first 20 losses
           equal `tinygpt train --init-from` to 1e-4 relative
  (b)      `torchrun --nproc_per_node 2` (gloo, CPU): every loss equals the
           1-process run with the same global batch to 1e-4
  (c)      after the steps, `tinygpt import --format hf` of latest/, then
           `tinygpt eval` on the held-out text gives the validation loss the script
           reported (final_eval.json), and tinygpt's own evaluation of the imported
           model (the step-0 evaluation of `train --init-from`) gives the script's
           last val_loss in metrics.jsonl, both to 1e-4

and prints PASS/FAIL with the numbers; exits 1 if anything fails.

    python3 scale/check_equivalence.py --tinygpt .build/release/tinygpt
    python3 scale/check_equivalence.py --family llama --steps 200 --work /tmp/eq

Needs torch, numpy, transformers, tokenizers, safetensors and torchrun on PATH.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import tinygpt_config  # noqa: E402
from train_ddp import encode, read_text, split_text  # noqa: E402

TOLERANCE = 1e-4

# Small enough for minutes on two cores; grad_accum_steps 2 so that the two
# ranks of (b) each take one of the step's micro-batches; grad_clip 0.5 so
# that clipping is exercised; dropout 0 (the only way to equal numbers); one
# thread per process (torch's OpenMP threads stall on a busy shared machine).
MODEL = {
    "gpt2": ("configs/gpt2-style.json", ["model.n_layer=4", "model.d_model=128", "model.n_head=4", "model.n_kv_head=4",
                                         "model.context_length=64"]),
    "llama": ("configs/llama-style.json", ["model.n_layer=4", "model.d_model=128", "model.n_head=4", "model.n_kv_head=2",
                                           "model.d_ff=352", "model.context_length=64"]),
}
COMMON = ["tokenizer.vocab_size=512", "model.dropout=0", "train.batch_size=8", "train.grad_accum_steps=2",
          "train.warmup_steps=20", "train.lr=0.002", "train.min_lr=0.0002", "train.grad_clip=0.5",
          "train.eval_steps=20", "train.seed=1337", "train.threads=1"]

results = []


def report(name, ok, detail):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)


def run(command, log):
    started = time.time()
    with open(log, "w") as f:
        f.write("$ " + " ".join(command) + "\n")
        f.flush()
        code = subprocess.call(command, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        print(f"command failed (exit {code}), see {log}:\n  {' '.join(command)}", flush=True)
        sys.exit(1)
    return time.time() - started


def sets(overrides):
    return [x for o in overrides for x in ("--set", o)]


def metrics(path):
    logs, evals = {}, {}
    for line in open(path):
        record = json.loads(line)
        (evals if "val_loss" in record else logs)[record["step"]] = record
    return logs, evals


def relative(a, b):
    return abs(a - b) / max(abs(a), 1e-30)


def compare_losses(name, ours, theirs, steps):
    worst = max(steps, key=lambda s: relative(ours[s]["loss"], theirs[s]["loss"]))
    diff = relative(ours[worst]["loss"], theirs[worst]["loss"])
    first, last = steps[0], steps[-1]
    report(name, diff <= TOLERANCE,
           f"max relative difference {diff:.2e} over steps {first}-{last} (at step {worst}: "
           f"{theirs[worst]['loss']} vs {ours[worst]['loss']}); step {first}: {theirs[first]['loss']} vs "
           f"{ours[first]['loss']}, step {last}: {theirs[last]['loss']} vs {ours[last]['loss']}")


def check_config_defaults(tinygpt, work, config, overrides):
    """train_ddp reads the config through tinygpt itself (`tinygpt info --json`): the config it
    gets equals the one `tinygpt info` prints, field for field."""
    out = subprocess.run([tinygpt, "info", "--config", config] + sets(overrides), cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    theirs = json.loads(out.split("resolved config:\n", 1)[1])
    ours, _ = tinygpt_config.load(os.path.join(REPO, config), overrides, tinygpt=tinygpt)
    differing = [f"{s}.{k}" for s in theirs for k in theirs[s]
                 if f"{s}.{k}" != "model.vocab_size" and ours.get(s, {}).get(k) != theirs[s][k]]
    missing = [f"{s}.{k}" for s in ours for k in ours[s] if k not in theirs.get(s, {})]
    report("config", not differing and not missing,
           f"{sum(len(v) for v in theirs.values())} fields of `tinygpt info`'s resolved {config}; "
           f"differing {differing or 'none'}, unknown to tinygpt {missing or 'none'}")


def check_token_ids(base, export, val_fraction):
    """tinygpt's ids from the base run's token cache (tokens.bin, docs: Sources/Train/Corpus.swift)."""
    data = open(os.path.join(base, "tokens.bin"), "rb").read()
    width = struct.unpack_from("<I", data, 12)[0]
    n_train, n_val = struct.unpack_from("<QQ", data, 24)
    ids = struct.unpack_from("<%d%s" % (n_train + n_val, "H" if width == 2 else "I"), data, 40)
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(os.path.join(export, "tokenizer.json"))
    train_text, val_text = split_text(read_text(os.path.join(REPO, "data/corpus.txt")), val_fraction)
    ours_train, ours_val = encode(tokenizer, train_text).tolist(), encode(tokenizer, val_text).tolist()
    same = ours_train == list(ids[:n_train]) and ours_val == list(ids[n_train:])
    report("tokens", same, f"HF tokenizers on data/corpus.txt: {len(ours_train)} training + {len(ours_val)} validation "
                           f"ids; tinygpt's tokens.bin: {n_train} + {n_val}; {'identical' if same else 'DIFFERENT'}")


def check_family(family, args, work):
    tinygpt = args.tinygpt
    config, model = MODEL[family]
    overrides = model + COMMON
    run_sets = overrides + [f"train.max_steps={args.steps}", "train.log_interval=1",
                           f"train.eval_interval={max(1, args.steps // 4)}"]
    d = os.path.join(work, family)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    print(f"== {family} ({config} with {' '.join(model)}), {args.steps} steps; work in {d}", flush=True)
    check_config_defaults(tinygpt, d, config, run_sets)

    # A tinygpt model to continue: 50 steps from scratch, exported.
    base_sets = overrides + ["train.max_steps=50", "train.eval_interval=50"]
    run([tinygpt, "train", "--config", config] + sets(base_sets) + ["--out", p("base")], p("base.log"))
    run([tinygpt, "export", "--checkpoint", p("base"), "--format", "hf", "--out", p("export")], p("export.log"))
    run([tinygpt, "import", "--format", "hf", "--from", p("export"), "--out", p("imported")], p("import.log"))
    check_token_ids(p("base"), p("export"), 0.1)

    # (a) tinygpt vs one process.
    t_tinygpt = run([tinygpt, "train", "--init-from", p("imported"), "--config", config] + sets(run_sets)
                    + ["--out", p("tinygpt")], p("tinygpt.log"))
    script = [sys.executable, os.path.join(HERE, "train_ddp.py"), "--from", p("export"), "--config", config] + sets(run_sets)
    t_one = run(script + ["--out", p("ddp1")], p("ddp1.log"))
    tg_logs, tg_evals = metrics(p("tinygpt/metrics.jsonl"))
    one_logs, one_evals = metrics(p("ddp1/metrics.jsonl"))
    compare_losses("(a) 1 process vs tinygpt train --init-from, first 20 losses", one_logs, tg_logs, list(range(1, 21)))
    steps = sorted(tg_logs)
    compare_losses(f"    (same, all {len(steps)} steps; information)", one_logs, tg_logs, steps)
    last = max(tg_evals)
    print(f"      val_loss at step {last}: tinygpt {tg_evals[last]['val_loss']}, script {one_evals[last]['val_loss']} "
          f"(relative {relative(one_evals[last]['val_loss'], tg_evals[last]['val_loss']):.2e}); "
          f"wall time tinygpt {t_tinygpt:.0f} s, script {t_one:.0f} s", flush=True)

    # (b) two processes vs one.
    torchrun = [shutil.which("torchrun") or "torchrun", "--nproc_per_node", "2", "--master_port", str(args.port)]
    t_two = run(torchrun + script[1:] + ["--out", p("ddp2")], p("ddp2.log"))
    two_logs, two_evals = metrics(p("ddp2/metrics.jsonl"))
    compare_losses("(b) torchrun --nproc_per_node 2 (gloo) vs 1 process, every loss", two_logs, one_logs, sorted(one_logs))
    print(f"      wall time 2 processes {t_two:.0f} s", flush=True)

    # Stopped after a quarter of the steps on 1 process, resumed on 2: the same run.
    run(script + ["--out", p("resumed"), "--stop-after", str(args.steps // 4)], p("resumed-1.log"))
    run(torchrun + script[1:] + ["--out", p("resumed"), "--resume"], p("resumed-2.log"))
    resumed_logs, _ = metrics(p("resumed/metrics.jsonl"))
    compare_losses(f"    --stop-after {args.steps // 4} on 1 process, --resume on 2, vs uninterrupted (extra)",
                   resumed_logs, one_logs, sorted(one_logs))

    # (c) back into tinygpt.
    run([tinygpt, "import", "--format", "hf", "--from", p("ddp2/latest"), "--out", p("back")], p("back.log"))
    out = subprocess.run([tinygpt, "eval", "--checkpoint", p("back"), "--data", p("ddp2/validation.txt"), "--json"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    theirs = json.loads(out)
    ours = json.load(open(p("ddp2/final_eval.json")))
    diff = relative(ours["loss"], theirs["loss"])
    report(f"(c) tinygpt eval of the imported step-{ours['step']} model on the held-out text",
           diff <= TOLERANCE and ours["tokens"] == theirs["tokens"],
           f"tinygpt {theirs['loss']:.7f} over {theirs['tokens']} tokens, script {ours['loss']:.7f} over "
           f"{ours['tokens']} tokens (relative {diff:.2e})")
    check_sets = run_sets + ["train.max_steps=1", "train.warmup_steps=0"]
    run([tinygpt, "train", "--init-from", p("back"), "--config", config] + sets(check_sets) + ["--out", p("back-eval")],
        p("back-eval.log"))
    _, back_evals = metrics(p("back-eval/metrics.jsonl"))
    last = max(two_evals)
    diff = relative(two_evals[last]["val_loss"], back_evals[0]["val_loss"])
    report(f"(c) tinygpt's evaluation of the imported model vs the script's val_loss at step {last}", diff <= TOLERANCE,
           f"tinygpt {back_evals[0]['val_loss']}, script {two_evals[last]['val_loss']} (relative {diff:.2e}; "
           "metrics.jsonl holds 6 significant digits)")


def check_bad_input(args, work):
    """Each must stop before training with one line naming the problem (exit 2)."""
    d = os.path.join(work, "gpt2")
    export = os.path.join(d, "export")
    script = [sys.executable, os.path.join(HERE, "train_ddp.py")]
    other = os.path.join(work, "bad-export")
    shutil.rmtree(other, ignore_errors=True)
    shutil.copytree(export, other)
    hf = json.load(open(os.path.join(export, "config.json")))
    hf["model_type"] = "mistral"
    json.dump(hf, open(os.path.join(other, "config.json"), "w"))
    small = os.path.join(work, "bad-tokenizer")
    shutil.rmtree(small, ignore_errors=True)
    shutil.copytree(export, small)
    tokenizer = json.load(open(os.path.join(export, "tokenizer.json")))
    vocab = tokenizer["model"]["vocab"]
    tokenizer["model"]["vocab"] = {k: v for k, v in vocab.items() if v < len(vocab) - 1}
    tokenizer["model"]["merges"] = [m for m in tokenizer["model"]["merges"]
                                    if "".join(m if isinstance(m, list) else m.split(" ")) in tokenizer["model"]["vocab"]]
    json.dump(tokenizer, open(os.path.join(small, "tokenizer.json"), "w"))
    cases = [
        ("unsupported family", ["--from", other], "model_type 'mistral' is not supported"),
        ("config the export contradicts", ["--from", export, "--config", "configs/gpt2-style.json"],
         "model.context_length is 256 in the config"),
        ("config the script cannot honour", ["--from", os.path.join(work, "llama", "export"), "--set", "model.dropout=0.1"],
         "model.dropout is 0.1"),
        ("unknown config field", ["--from", export, "--set", "train.warmup=5"], "unknown key 'train.warmup'"),
        ("tokenizer of another vocabulary", ["--from", small], "the tokenizer does not belong to this model"),
        ("output directory of another run", ["--from", export], "holds another run"),
    ]
    # And the config the docs recommend, a run's own resolved config.json, is accepted as it is.
    accepted = os.path.join(work, "accepted")
    shutil.rmtree(accepted, ignore_errors=True)
    result = subprocess.run(script + ["--from", export, "--config", os.path.join(d, "base", "config.json"), "--out", accepted,
                                      "--stop-after", "1"], cwd=REPO, capture_output=True, text=True)
    report("good input: the base run's resolved config.json", result.returncode == 0,
           f"exit {result.returncode}" + (f": {result.stderr.strip().splitlines()[-1]}" if result.returncode else ""))
    for name, arguments, expected in cases:
        out = os.path.join(d, "ddp1") if name == "output directory of another run" else os.path.join(work, "bad-out")
        result = subprocess.run(script + arguments + ["--out", out], cwd=REPO, capture_output=True, text=True)
        lines = result.stderr.strip().splitlines()
        ok = result.returncode == 2 and len(lines) == 1 and expected in lines[0] and not os.path.exists(os.path.join(work, "bad-out"))
        report(f"bad input: {name}", ok, lines[-1] if lines else f"exit {result.returncode}, no message")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tinygpt", default=os.path.join(REPO, ".build/release/tinygpt"))
    parser.add_argument("--family", choices=["gpt2", "llama", "both"], default="both")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--work", help="directory for the runs (default: a new temporary one, kept)")
    parser.add_argument("--port", type=int, default=29517, help="torchrun's rendezvous port")
    args = parser.parse_args()
    if args.steps < 20:
        parser.error("--steps must be at least 20 (check (a) compares the first 20 losses)")
    args.tinygpt = os.path.abspath(args.tinygpt)
    if not os.access(args.tinygpt, os.X_OK):
        parser.error(f"no tinygpt at {args.tinygpt}; build it with `swift build -c release` or pass --tinygpt")
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="tinygpt-scale-")
    for family in (["gpt2", "llama"] if args.family == "both" else [args.family]):
        check_family(family, args, work)
    if args.family == "both":
        print("== bad input", flush=True)
        check_bad_input(args, work)
    failed = results.count(False)
    print(f"{'PASS' if not failed else 'FAIL'}: {len(results) - failed} of {len(results)} checks passed; runs in {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
