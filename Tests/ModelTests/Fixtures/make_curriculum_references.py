#!/usr/bin/env python3
"""Expected values for tinygpt's curriculum options, from the reference implementations.

Writes curriculum-references.json next to this script, read by
Tests/ModelTests/CurriculumReferenceTests.swift:

- label smoothing: PyTorch's CrossEntropyLoss(label_smoothing=ε, ignore_index=-100),
  mean reduction: the loss and its gradient with respect to the logits, on
  awkward shapes (class counts that are not multiples of 16, ignored rows,
  logits near ±50);
- T5 relative position buckets: transformers' T5Attention._relative_position_bucket
  with bidirectional=False (a decoder), for distances 0..399 (relative position
  key − query = −distance).

Run from the repository root (needs torch and transformers, used only here):
    python3 Tests/ModelTests/Fixtures/make_curriculum_references.py
"""
import json
import os

import torch
from transformers.models.t5.modeling_t5 import T5Attention

torch.manual_seed(28)
out = {"label_smoothing": [], "t5_buckets": []}

for rows, cols, epsilon, spread, ignored in [(5, 7, 0.1, 1.0, [2]), (3, 37, 0.25, 3.0, []), (6, 16, 0.0, 1.0, [0, 5]),
                                             (4, 70, 0.9, 50.0, [1]), (2, 3, 0.5, 1.0, [0, 1])]:
    logits = (torch.randn(rows, cols, dtype=torch.float64) * spread).float()
    targets = torch.randint(0, cols, (rows,))
    for r in ignored:
        targets[r] = -100
    x = logits.clone().double().requires_grad_(True)
    loss = torch.nn.CrossEntropyLoss(label_smoothing=epsilon, ignore_index=-100)(x, targets)
    if targets.ne(-100).any():
        loss.backward()
        value, grad = loss.item(), x.grad.flatten().tolist()
    else:  # every row ignored: PyTorch gives NaN (0/0); tinygpt defines the loss as 0, with no gradient
        assert loss.isnan()
        value, grad = 0.0, [0.0] * (rows * cols)
    out["label_smoothing"].append({
        "rows": rows, "cols": cols, "epsilon": epsilon, "logits": logits.flatten().tolist(), "targets": targets.tolist(),
        "loss": value, "grad": grad})

for buckets, max_distance in [(32, 128), (8, 20), (16, 50), (2, 3)]:
    distance = torch.arange(400)
    ids = T5Attention._relative_position_bucket(-distance, bidirectional=False, num_buckets=buckets, max_distance=max_distance)
    out["t5_buckets"].append({"buckets": buckets, "max_distance": max_distance, "ids": ids.tolist()})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "curriculum-references.json")
with open(path, "w") as f:
    json.dump(out, f, allow_nan=False)
print("wrote", path)
