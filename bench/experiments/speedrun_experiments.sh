#!/usr/bin/env bash
# The speed-run techniques of docs/experiments.md ("Speed-run techniques"): each option
# switched on alone in configs/speedrun.json (700 steps), then all together at fewer steps.
#   bash bench/experiments/speedrun_experiments.sh TINYSHAKESPEARE.txt [OUT]   (after swift build -c release)
# The compares write OUT/options-*/report.md and curves.svg; the shortened runs OUT/all-STEPS-SEED/.
# Evaluations at steps 0, 350 and 700 over 200 batches: the one at 700 is the record's own.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
DATA=${1:?usage: bash bench/experiments/speedrun_experiments.sh TINYSHAKESPEARE.txt [OUT]}
OUT=${2:-experiments-speedrun}
COMMON=(--config configs/speedrun.json --data "$DATA" --seeds 1 --target-loss 1.88
        --set train.eval_interval=350 --set train.eval_steps=200 --yes)
# Every variant names all seven fields, so one table holds them (the first row is configs/speedrun.json).
FIELDS=train.optimizer+model.qk_norm+model.activation+model.d_ff+model.logit_softcap+model.tie_embeddings+model.zero_init_head
"$T" compare --out "$OUT/options-a" "${COMMON[@]}" --vary "$FIELDS=adamw+false+swiglu+341+null+true+false,muon+false+swiglu+341+null+true+false,adamw+true+swiglu+341+null+true+false,adamw+false+relu2+512+null+true+false"
"$T" compare --out "$OUT/options-b" "${COMMON[@]}" --vary "$FIELDS=adamw+false+swiglu+341+15+true+false,adamw+false+swiglu+341+null+false+true"

# All four that help, with the cosine schedule shortened to STEPS.
ALL=(--set train.optimizer=muon --set model.qk_norm=true --set model.activation=relu2 --set model.d_ff=512 --set model.logit_softcap=15)
for steps in 500 400 350 300; do
    "$T" train --config configs/speedrun.json --data "$DATA" --out "$OUT/all-$steps-1337" --force "${ALL[@]}" \
        --set train.max_steps=$steps --set train.eval_interval=$steps | tail -n 4
done
