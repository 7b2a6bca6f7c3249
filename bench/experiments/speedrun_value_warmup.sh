#!/usr/bin/env bash
# Value residual, value embeddings and sequence-length warm-up on the speed-run record's route
# (docs/experiments.md, "Speed-run: value residual, value embeddings, sequence-length warm-up").
#   bash bench/experiments/speedrun_value_warmup.sh TINYSHAKESPEARE.txt [OUT]   (after swift build -c release)
# Each compare trains configs/speedrun.json as it was before these options (no value residual, 350
# steps, seed 1337) with the option off and on; the evaluation at step 350 over 200 batches is the
# record's own. Writes OUT/*/report.md and curves.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
DATA=${1:?usage: bash bench/experiments/speedrun_value_warmup.sh TINYSHAKESPEARE.txt [OUT]}
OUT=${2:-experiments-speedrun-value}
COMMON=(--config configs/speedrun.json --data "$DATA" --seeds 1 --target-loss 1.88 --yes
        --set train.max_steps=350 --set train.eval_interval=350)
"$T" compare --out "$OUT/value" "${COMMON[@]}" \
    --vary "model.value_residual+model.value_embeddings=false+0,true+0,false+1,false+2,true+2"
"$T" compare --out "$OUT/seq-len-warmup" "${COMMON[@]}" --set model.value_residual=false --set train.seq_len_warmup_start=16 \
    --vary "train.seq_len_warmup_steps=0,100,200"
