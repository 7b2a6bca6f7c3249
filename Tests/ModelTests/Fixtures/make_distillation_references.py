#!/usr/bin/env python3
"""Expected values for tinygpt's distillation loss (train.objective = distill), from PyTorch.

Writes distillation-references.json next to this script, read by
Tests/ModelTests/DistillationReferenceTests.swift. For each case (odd class
counts, ignored rows, temperatures other than 1, alpha at 0 and 1, logits
up to ±1e4), with the counted rows c (target != -100):

    kl   = F.kl_div(F.log_softmax(s[c] / T, -1), F.log_softmax(t[c] / T, -1),
                    log_target=True, reduction="batchmean")
    ce   = F.cross_entropy(s, targets, ignore_index=-100)            # mean over counted rows
    loss = alpha * T**2 * kl + (1 - alpha) * ce

reduction="batchmean" on the (counted rows, V) matrix divides the summed KL by
the number of counted rows: tinygpt's mean over the tokens the cross-entropy
counts ("mean" would divide by rows × V as well, "sum" not at all). Computed in
float64 from the same float32 logits; the gradient is with respect to the
student logits s (zero on ignored rows).

Run from the repository root (needs torch, used only here):
    python3 Tests/ModelTests/Fixtures/make_distillation_references.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(2015)
cases = []
for rows, cols, temperature, alpha, spread, ignored in [
        (5, 7, 2.0, 0.5, 1.0, [2]), (3, 37, 1.0, 0.3, 3.0, []), (6, 16, 4.0, 1.0, 2.0, [0, 5]),
        (4, 70, 0.5, 0.0, 5.0, [1]), (4, 33, 2.0, 0.9, 1e4, [3]), (2, 3, 3.0, 0.5, 1.0, [0, 1]),
        (3, 129, 1.5, 0.7, 30.0, [])]:
    student = (torch.randn(rows, cols, dtype=torch.float64) * spread).float()
    # A teacher near the student (as after some training) plus its own noise.
    teacher = (student.double() + torch.randn(rows, cols, dtype=torch.float64) * spread).float()
    targets = torch.randint(0, cols, (rows,))
    for r in ignored:
        targets[r] = -100
    s = student.clone().double().requires_grad_(True)
    t = teacher.double()
    counted = targets.ne(-100)
    if counted.any():
        kl = F.kl_div(F.log_softmax(s[counted] / temperature, -1), F.log_softmax(t[counted] / temperature, -1),
                      log_target=True, reduction="batchmean")
        ce = F.cross_entropy(s, targets, ignore_index=-100)
        loss = alpha * temperature ** 2 * kl + (1 - alpha) * ce
        loss.backward()
        value, kl_value, ce_value, grad = loss.item(), kl.item(), ce.item(), s.grad.flatten().tolist()
    else:  # every row ignored: tinygpt defines the loss and both parts as 0, with no gradient
        value, kl_value, ce_value, grad = 0.0, 0.0, 0.0, [0.0] * (rows * cols)
    # float32 values in 9 significant digits (they read back exactly); the gradient in 10.
    def short(values, digits):
        return [float(f"{v:.{digits}g}") for v in values]
    cases.append({"rows": rows, "cols": cols, "temperature": temperature, "alpha": alpha,
                  "student": short(student.flatten().tolist(), 9), "teacher": short(teacher.flatten().tolist(), 9),
                  "targets": targets.tolist(), "loss": value, "kl": kl_value, "ce": ce_value, "grad": short(grad, 10)})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distillation-references.json")
with open(path, "w") as f:
    json.dump({"distillation": cases}, f, allow_nan=False)
print("wrote", path)
