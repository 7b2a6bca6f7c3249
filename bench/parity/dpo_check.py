#!/usr/bin/env python3
"""Side-by-side check of tinygpt's DPO figures against plain PyTorch.

Exports a policy and its reference with `tinygpt export --format hf`, loads
both with transformers, scores every preference pair of a JSON Lines file one
sequence at a time (no padding), and computes TRL's `sigmoid` DPO loss and
figures with the formula written out in PyTorch:

    logp(y)  = Σ over completion tokens of log_softmax(logits)[token]
    reward   = β · (logp_policy(y) − logp_reference(y))
    loss     = −logsigmoid(reward(chosen) − reward(rejected)), mean over pairs

then compares with `tinygpt eval --checkpoint POLICY --data PAIRS --reference
REFERENCE --json` (which batches and pads). Examples are fitted to the context
with tinygpt's documented rule (docs/fine-tuning.md), written again here.

A benchmark tool, never a build or test dependency:  pip install torch transformers
    python3 bench/parity/dpo_check.py .build/release/tinygpt runs/dpo runs/sft data/preferences.jsonl [--beta B]
"""
import json, os, subprocess, sys, tempfile

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

TOLERANCE = 1e-4


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def fit(prompt, completions, window):
    """Prompt loses tokens from the left (down to one); a completion still too long is cut at the right."""
    longest = max(len(c) for c in completions)
    kept = min(len(prompt), max(window - longest, min(len(prompt), 1)))
    prompt = prompt[len(prompt) - kept:]
    return [(prompt + c[:window - len(prompt)], len(prompt)) for c in completions]


def sequence_logp(model, tokens, prompt_length):
    ids = torch.tensor([tokens[:-1]])
    with torch.no_grad():
        logp = F.log_softmax(model(ids).logits[0].double(), dim=-1)          # (T, V)
    targets = torch.tensor(tokens[1:])
    per_token = logp.gather(1, targets[:, None])[:, 0]
    scored = torch.arange(1, len(tokens)) >= max(prompt_length, 1)          # completion tokens only
    return per_token[scored].sum().item()


def main():
    args = sys.argv[1:]
    beta = None
    if "--beta" in args:
        i = args.index("--beta")
        beta = float(args[i + 1])
        args = args[:i] + args[i + 2:]
    if len(args) != 4:
        print(__doc__)
        sys.exit(2)
    binary, policy, reference, data = args
    ours = json.loads(run(binary, "eval", "--checkpoint", policy, "--data", data, "--reference", reference, "--json",
                          *(["--beta", beta] if beta is not None else [])))
    beta = ours["beta"]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for name, checkpoint in [("policy", policy), ("reference", reference)]:
            out = os.path.join(tmp, name)
            run(binary, "export", "--checkpoint", checkpoint, "--format", "hf", "--out", out)
            models[name] = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
        tokenizer = AutoTokenizer.from_pretrained(os.path.join(tmp, "policy"))
        window = models["policy"].config.max_position_embeddings + 1
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
        scores = {k: [] for k in ["policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected"]}
        for row in rows:
            encode = lambda text: tokenizer.encode(text, add_special_tokens=False)
            (chosen, p1), (rejected, p2) = fit(encode(row["prompt"]), [encode(row["chosen"]) + eos, encode(row["rejected"]) + eos], window)
            for name in ["policy", "reference"]:
                scores[f"{name}_chosen"].append(sequence_logp(models[name], chosen, p1))
                scores[f"{name}_rejected"].append(sequence_logp(models[name], rejected, p2))
    s = {k: torch.tensor(v, dtype=torch.float64) for k, v in scores.items()}
    chosen_rewards = beta * (s["policy_chosen"] - s["reference_chosen"])
    rejected_rewards = beta * (s["policy_rejected"] - s["reference_rejected"])
    losses = -F.logsigmoid(chosen_rewards - rejected_rewards)
    torch_figures = {
        "loss": losses.mean().item(),
        "rewards/chosen": chosen_rewards.mean().item(),
        "rewards/rejected": rejected_rewards.mean().item(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).double().mean().item(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
        "logps/chosen": s["policy_chosen"].mean().item(),
        "logps/rejected": s["policy_rejected"].mean().item(),
    }
    worst = 0.0
    print(f"{len(rows)} pairs, beta {beta}; tinygpt (batched, padded) vs PyTorch (one sequence at a time)")
    print(f"{'figure':<20} {'tinygpt':>14} {'pytorch':>14} {'rel. error':>11}")
    for key, theirs in torch_figures.items():
        mine = ours[key]
        error = abs(mine - theirs) / max(abs(theirs), 1e-12)
        if key != "rewards/accuracies" or mine != theirs:
            worst = max(worst, error)
        print(f"{key:<20} {mine:>14.7g} {theirs:>14.7g} {error:>11.2e}")
    print(f"worst relative error {worst:.2e} ({'within' if worst <= TOLERANCE else 'OUTSIDE'} {TOLERANCE:g})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
