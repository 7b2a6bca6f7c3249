#!/usr/bin/env python3
"""Recomputes one PPO or GRPO update of a tinygpt run in plain PyTorch.

A run's rollouts.jsonl holds, for every step, the sampled completions (prompt
and response token ids), their scores, and the numbers the update used:
log-probabilities under the policy and the reference, and for PPO the values,
advantages and returns; `first_minibatch` holds the losses of the step's
first optimizer step. This script exports the models those numbers came from
with `tinygpt export --format hf`, loads them with transformers, and
recomputes everything from the formulas written out here:

    log π(y_t)  = log_softmax(logits / temperature)[y_t]          (TRL scores rollouts at the sampling temperature)
  PPO (InstructGPT; TRL's PPOTrainer):
    kl_t        = log π_old(y_t) − log π_ref(y_t)                 (k1; k3 with ppo.kl_estimator = k3)
    r_t         = −β·kl_t, plus the score at the last token
    δ_t         = r_t + γ·V_{t+1} − V_t,  A_t = δ_t + γλ·A_{t+1}  (GAE; V past the end = 0)
    returns     = A + V;  advantages whitened over the batch: (A − mean)/sqrt(var + 1e-8), var unbiased
    loss        = mean_t max(−A_t·ρ_t, −A_t·clip(ρ_t, 1 ± ε)) + vf_coef · ½·mean_t max((V − R)², (clip(V, V_old ± ε_v) − R)²)
  GRPO (DeepSeekMath):
    A_i         = (s_i − mean(s_group)) / (std(s_group) + 1e-4)    (std unbiased, as torch.std)
    loss        = mean_i mean_t [−min(ρ·A_i, clip(ρ, 1 ± ε)·A_i) + β·(e^(ref − logp) − (ref − logp) − 1)]
                  (loss_type grpo; dapo: one mean over every token of the batch)

and compares with what tinygpt recorded: relative error ≤ 1e-5 (on values
near 0, absolute 1e-5).

Which models: the first step samples from the --init-from model, which every
checkpoint of the run keeps as reference/; PPO's value model starts as the
reward model (reward_model/), or as the policy with a zero head when rules
alone score. So step 1 is checked from RUN/latest alone. A later step k needs
the policy and value model after step k − 1: give a run of the same config
and seed stopped there (`--set train.max_steps=K-1`, same schedule: keep
min_lr = lr and warmup_steps 0, as configs/ppo.json and configs/grpo.json do).

A check tool, never a build or test dependency:  pip install torch transformers
    python3 bench/parity/rlhf_check.py .build/release/tinygpt RUN                 # step 1
    python3 bench/parity/rlhf_check.py .build/release/tinygpt RUN --before RUN1   # step 2, RUN1 stopped after step 1
"""
import json, os, subprocess, sys, tempfile

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

TOLERANCE = 1e-5
worst = [0.0, ""]


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def compare(name, ours, theirs):
    ours, theirs = torch.as_tensor(ours, dtype=torch.float64).flatten(), torch.as_tensor(theirs, dtype=torch.float64).flatten()
    assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
    if ours.numel() == 0:
        return
    error = ((ours - theirs).abs() / theirs.abs().clamp(min=1.0)).max().item()
    if error > worst[0]:
        worst[:] = [error, name]
    print(f"{name:<34} {ours.numel():>6} values   worst rel. error {error:.2e}")


def export(binary, checkpoint, tmp, name):
    out = os.path.join(tmp, name)
    run(binary, "export", "--checkpoint", checkpoint, "--format", "hf", "--out", out)
    return out


def response_logprobs(model, rollout, temperature):
    tokens = rollout["prompt"] + rollout["response"]
    with torch.no_grad():
        logits = model(torch.tensor([tokens[:-1]])).logits[0].double() / temperature     # (T, V)
    logp = F.log_softmax(logits, dim=-1)
    start = len(rollout["prompt"]) - 1
    targets = torch.tensor(rollout["response"])
    return logp[start:start + len(targets)].gather(1, targets[:, None])[:, 0]


def response_values(model, rollout):
    tokens = rollout["prompt"] + rollout["response"]
    if model is None:
        return torch.zeros(len(rollout["response"]), dtype=torch.float64)
    with torch.no_grad():
        hidden = model.base_model(torch.tensor([tokens[:-1]])).last_hidden_state[0]    # (T, C)
        values = model.score(hidden)[:, 0].double()
    start = len(rollout["prompt"]) - 1
    return values[start:start + len(rollout["response"])]


def whiten(x):
    return (x - x.mean()) * torch.rsqrt(x.var() + 1e-8)


def main():
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        i = args.index("--before")
        before, args = args[i + 1], args[:i] + args[i + 2:]
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    binary, run_dir = args
    config = json.load(open(os.path.join(run_dir, "config.json")))
    objective = config["train"]["objective"]
    records = [json.loads(line) for line in open(os.path.join(run_dir, "rollouts.jsonl")) if line.strip()]
    step = 2 if before else 1
    record = next(r for r in records if r["step"] == step)
    rollouts = record["rollouts"]
    latest = os.path.join(run_dir, "latest")
    policy_dir = os.path.join(before, "latest") if before else os.path.join(latest, "reference")
    with tempfile.TemporaryDirectory() as tmp:
        policy = AutoModelForCausalLM.from_pretrained(export(binary, policy_dir, tmp, "policy"), torch_dtype=torch.float32).eval()
        reference = AutoModelForCausalLM.from_pretrained(export(binary, os.path.join(latest, "reference"), tmp, "reference"),
                                                         torch_dtype=torch.float32).eval()
        value = None
        if objective == "ppo":
            if before:
                value_dir = os.path.join(before, "latest", "value_model")
            elif os.path.isdir(os.path.join(latest, "reward_model")):
                value_dir = os.path.join(latest, "reward_model")
            else:
                value_dir = None   # rules alone: the value model starts with a zero head
            if value_dir:
                value = AutoModelForSequenceClassification.from_pretrained(export(binary, value_dir, tmp, "value"), torch_dtype=torch.float32).eval()
        section = config[objective]
        temperature = section["temperature"]
        print(f"{run_dir}: {objective}, step {step}, {len(rollouts)} rollouts; policy from {policy_dir}")
        logp = [response_logprobs(policy, r, temperature) for r in rollouts]
        ref = [response_logprobs(reference, r, temperature) for r in rollouts]
        compare("log π_old (logprobs)", torch.cat([torch.tensor(r["logprobs"]) for r in rollouts]), torch.cat(logp))
        compare("log π_ref (ref_logprobs)", torch.cat([torch.tensor(r["ref_logprobs"]) for r in rollouts]), torch.cat(ref))
        scores = torch.tensor([r["score"] for r in rollouts], dtype=torch.float64)
        first = record["first_minibatch"]
        if objective == "ppo":
            beta = section["kl_coef"]
            values = [response_values(value, r) for r in rollouts]
            compare("values", torch.cat([torch.tensor(r["values"]) for r in rollouts]), torch.cat(values))
            advantages, returns = [], []
            rewards = []
            for lp, rp, s in zip(logp, ref, scores):
                d = rp - lp
                kl = (d.exp() - 1 - d) if section.get("kl_estimator") == "k3" else lp - rp
                r = -beta * kl
                r[-1] += s
                rewards.append(r)
            if section.get("whiten_rewards"):
                flat = whiten(torch.cat(rewards)) + torch.cat(rewards).mean()
                rewards = list(torch.split(flat, [len(r) for r in rewards]))
            for r, v in zip(rewards, values):
                a, last = torch.zeros_like(r), 0.0
                for t in reversed(range(len(r))):
                    following = v[t + 1] if t + 1 < len(v) else 0.0
                    delta = r[t] + section["gamma"] * following - v[t]
                    last = delta + section["gamma"] * section["lam"] * last
                    a[t] = last
                advantages.append(a)
                returns.append(a + v)
            flat = whiten(torch.cat(advantages))
            advantages = list(torch.split(flat, [len(a) for a in advantages]))
            compare("advantages (GAE, whitened)", torch.cat([torch.tensor(r["advantages"]) for r in rollouts]), flat)
            compare("returns", torch.cat([torch.tensor(r["returns"]) for r in rollouts]), torch.cat(returns))
            # The first minibatch: the policy is the sampling policy (ρ = 1), the value model the rollout's.
            idx = first["indices"]
            a = torch.cat([advantages[i] for i in idx])
            ratio = torch.ones_like(a)
            eps = section["cliprange"]
            policy_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - eps, 1 + eps)).mean()
            v, R = torch.cat([values[i] for i in idx]), torch.cat([returns[i] for i in idx])
            clipped = v.clamp(v - section["cliprange_value"], v + section["cliprange_value"])
            value_loss = 0.5 * torch.max((v - R) ** 2, (clipped - R) ** 2).mean()
            compare("loss/policy_avg (first minibatch)", first["loss/policy_avg"], policy_loss)
            compare("loss/value_avg (first minibatch)", first["loss/value_avg"], value_loss)
            if section.get("entropy_coef", 0) == 0:
                compare("loss (first minibatch)", first["loss"], policy_loss + section["vf_coef"] * value_loss)
        else:
            G = section["num_generations"]
            groups = scores.view(-1, G)
            advantages = (groups - groups.mean(1, keepdim=True))
            if section.get("scale_rewards", True):
                advantages = advantages / (groups.std(1, keepdim=True) + 1e-4)
            advantages = advantages.flatten()
            compare("advantages (group-normalised)", torch.tensor([r["advantage"] for r in rollouts]), advantages)
            eps, beta = section["epsilon"], section["beta"]
            per_sequence, tokens, kls = [], 0, []
            total_sum = 0.0
            for lp, rp, a in zip(logp, ref, advantages):
                ratio = torch.ones_like(lp)                 # the first iteration: π = π_old
                d = rp - lp
                k3 = d.exp() - d - 1
                loss = -torch.min(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a) + beta * k3
                per_sequence.append(loss.mean())
                total_sum += loss.sum()
                tokens += len(lp)
                kls.append(k3)
            loss = torch.stack(per_sequence).mean() if section.get("loss_type", "grpo") == "grpo" else total_sum / tokens
            compare("loss (first iteration)", first["loss"], loss)
            compare("kl (first iteration, k3 per token)", first["kl"], torch.cat(kls).mean())
    print(f"worst relative error {worst[0]:.2e} ({worst[1]}) ({'within' if worst[0] <= TOLERANCE else 'OUTSIDE'} {TOLERANCE:g})")
    sys.exit(0 if worst[0] <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
