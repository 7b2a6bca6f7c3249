#!/usr/bin/env bash
# Pruning: validation perplexity against sparsity. One small model (configs/default.json,
# 1000 steps on the shipped corpus) is pruned by magnitude (global and per matrix) and by
# attention heads (Michel et al.'s importance, global and per layer) at several sparsities
# (`prune --sweep`: a table and a plot), then a few pruned models and the dense one are
# fine-tuned for the same 200 steps with their masks and scored again on the held-out tail.
# docs/experiments.md shows the results.
#
#   bench/experiments/prune_experiment.sh
#
# Environment: TINYGPT (binary, default .build/release/tinygpt), OUT (default runs/prune),
# SVG (the plot, default docs/experiments/prune-sweep.svg).
set -euo pipefail
TINYGPT=${TINYGPT:-.build/release/tinygpt}
OUT=${OUT:-runs/prune}
SVG=${SVG:-docs/experiments/prune-sweep.svg}
DATA=data/corpus.txt
mkdir -p "$OUT"

# The splits training uses (data.val_fraction 0.1: the last 10% of the text is held out).
python3 - "$DATA" "$OUT" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
cut = int(len(text) * 0.9 + 0.5)
open(sys.argv[2] + "/train.txt", "w", encoding="utf-8").write(text[:cut])
open(sys.argv[2] + "/val.txt", "w", encoding="utf-8").write(text[cut:])
PY

if [[ ! -d $OUT/base/best ]]; then
  nice -n 19 "$TINYGPT" train --config configs/default.json --out "$OUT/base" --force \
    --set train.max_steps=1000 --set train.warmup_steps=50 --set train.eval_interval=250 --set train.log_interval=250 \
    > "$OUT/base.log" 2>&1
fi

# Every method and scope from the same checkpoint: heads ranked on the training split,
# every model scored on the validation split.
nice -n 19 "$TINYGPT" prune --checkpoint "$OUT/base" --sweep 0,0.2,0.25,0.4,0.5,0.6,0.75,0.8 --data "$DATA" --svg "$SVG" \
  > "$OUT/sweep.md" 2> "$OUT/sweep.log"
cat "$OUT/sweep.md"

# Pruned, then fine-tuned with the mask (and the dense model fine-tuned alike, the control).
prune() { nice -n 19 "$TINYGPT" prune --checkpoint "$OUT/base" --out "$OUT/$1" --force "${@:2}" 2> "$OUT/$1.prune.log"; }
prune magnitude-global-0.8 --method magnitude --sparsity 0.8
prune magnitude-layer-0.8 --method magnitude --sparsity 0.8 --scope layer
prune heads-layer-0.75 --method heads --sparsity 0.75 --scope layer --data "$OUT/train.txt"
echo
echo "| model | pruned | + 200 steps |"
echo "|---|---:|---:|"
for name in base magnitude-global-0.8 magnitude-layer-0.8 heads-layer-0.75; do
  nice -n 19 "$TINYGPT" train --config configs/default.json --init-from "$OUT/$name" --out "$OUT/$name-tuned" --force \
    --set train.max_steps=200 --set train.warmup_steps=0 --set train.lr=0.0005 --set train.min_lr=0.00005 \
    --set train.eval_interval=100 --set train.log_interval=100 > "$OUT/$name-tuned.log" 2>&1
  before=$(nice -n 19 "$TINYGPT" eval --checkpoint "$OUT/$name" --data "$OUT/val.txt" | sed 's/.*perplexity \([0-9.]*\).*/\1/')
  after=$(nice -n 19 "$TINYGPT" eval --checkpoint "$OUT/$name-tuned/latest" --data "$OUT/val.txt" | sed 's/.*perplexity \([0-9.]*\).*/\1/')
  echo "| $name | $before | $after |"
done
