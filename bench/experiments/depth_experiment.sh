#!/usr/bin/env bash
# Pre-norm, post-norm and DeepNorm at 24 layers on the shipped corpus, same
# budget, same init (xavier), one learning rate (high enough that post-norm
# fails). docs/experiments.md shows the loss curves.
#
#   bench/experiments/depth_experiment.sh        environment: TINYGPT, OUT (runs/depth), LR (0.001), STEPS (400), LAYERS (24), THREADS (1)
set -euo pipefail
TINYGPT=${TINYGPT:-.build/release/tinygpt}
OUT=${OUT:-runs/depth}
LR=${LR:-0.001}
STEPS=${STEPS:-400}
LAYERS=${LAYERS:-24}
THREADS=${THREADS:-1}
mkdir -p "$OUT"
for norm in pre post deepnorm; do
  run=$OUT/$norm-lr$LR
  [[ -d $run/latest ]] && continue
  nice -n 19 "$TINYGPT" train --data data/corpus.txt --out "$run" --set tokenizer.type=char \
    --set model.context_length=64 --set model.n_layer="$LAYERS" --set model.d_model=64 --set model.n_head=4 \
    --set model.bias=false --set model.dropout=0 --set model.init=xavier --set model.norm_position=$norm \
    --set train.batch_size=8 --set train.max_steps="$STEPS" --set train.lr="$LR" --set train.min_lr=$(python3 -c "print($LR/10)") \
    --set train.warmup_steps=20 --set train.eval_interval=50 --set train.eval_steps=10 --set train.log_interval=10 \
    --set train.threads="$THREADS" --set train.seed=1337 > "$run.log" 2>&1 || echo "$norm: exit $?" >&2
  tail -2 "$run.log" | head -1 >&2
done
