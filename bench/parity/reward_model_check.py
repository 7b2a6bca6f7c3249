#!/usr/bin/env python3
"""Side-by-side check of a tinygpt reward model against transformers.

Exports a reward checkpoint (train.objective = reward) with `tinygpt export
--format hf`, which writes GPT2ForSequenceClassification or
LlamaForSequenceClassification with one label, loads it with
AutoModelForSequenceClassification, scores every preference pair of a JSON
Lines file one sequence at a time (no padding: the score is the logit at the
last token), computes TRL's RewardTrainer loss and figures in PyTorch,

    loss     = −logsigmoid(r(chosen) − r(rejected) − margin), mean over pairs
    accuracy = the fraction of pairs with r(chosen) > r(rejected)

and compares them with `tinygpt eval --checkpoint RM --data PAIRS --json`
(which batches and pads). Examples are fitted to the context with tinygpt's
documented rule (docs/fine-tuning.md): a reward model reads every token, so
prompt + completion fit model.context_length.

A benchmark tool, never a build or test dependency:  pip install torch transformers
    python3 bench/parity/reward_model_check.py .build/release/tinygpt runs/rm data/preferences.jsonl
"""
import json, os, subprocess, sys, tempfile

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer

TOLERANCE = 1e-4


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def fit(prompt, completions, window):
    """Prompt loses tokens from the left (down to one); a completion still too long is cut at the right."""
    longest = max(len(c) for c in completions)
    kept = min(len(prompt), max(window - longest, min(len(prompt), 1)))
    prompt = prompt[len(prompt) - kept:]
    return [prompt + c[:window - len(prompt)] for c in completions]


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    binary, checkpoint, data = sys.argv[1:]
    ours = json.loads(run(binary, "eval", "--checkpoint", checkpoint, "--data", data, "--json"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rm")
        run(binary, "export", "--checkpoint", checkpoint, "--format", "hf", "--out", out)
        model = AutoModelForSequenceClassification.from_pretrained(out, torch_dtype=torch.float32).eval()
        print(f"loaded {type(model).__name__} with {model.config.num_labels} label")
        tokenizer = AutoTokenizer.from_pretrained(out)
        window = model.config.max_position_embeddings if hasattr(model.config, "max_position_embeddings") else model.config.n_positions
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
        chosen, rejected, margins = [], [], []
        encode = lambda text: tokenizer.encode(text, add_special_tokens=False)
        for row in rows:
            a, b = fit(encode(row["prompt"]), [encode(row["chosen"]) + eos, encode(row["rejected"]) + eos], window)
            with torch.no_grad():
                chosen.append(model(torch.tensor([a])).logits[0, 0].double().item())
                rejected.append(model(torch.tensor([b])).logits[0, 0].double().item())
            margins.append(float(row.get("margin", 0)))
    c, r, m = (torch.tensor(x, dtype=torch.float64) for x in (chosen, rejected, margins))
    everything = torch.cat([c, r])
    theirs = {
        "loss": (-F.logsigmoid(c - r - m)).mean().item(),
        "accuracy": (c > r).double().mean().item(),
        "margin": (c - r).mean().item(),
        "rewards/chosen": c.mean().item(),
        "rewards/rejected": r.mean().item(),
        "min_reward": everything.min().item(),
        "mean_reward": everything.mean().item(),
        "max_reward": everything.max().item(),
    }
    worst = 0.0
    print(f"{len(rows)} pairs; tinygpt (batched, padded) vs transformers (one sequence at a time)")
    print(f"{'figure':<18} {'tinygpt':>14} {'transformers':>14} {'rel. error':>11}")
    for key, value in theirs.items():
        mine = ours[key]
        error = abs(mine - value) / max(abs(value), 1e-3)
        if key != "accuracy" or mine != value:
            worst = max(worst, error)
        print(f"{key:<18} {mine:>14.7g} {value:>14.7g} {error:>11.2e}")
    print(f"worst relative error {worst:.2e} ({'within' if worst <= TOLERANCE else 'OUTSIDE'} {TOLERANCE:g})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
