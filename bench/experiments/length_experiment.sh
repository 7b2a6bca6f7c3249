#!/usr/bin/env bash
# Train short, test long: one model per position kind, trained at context 64
# with the same budget on the shipped corpus, then scored on its held-out tail
# at contexts 64, 128, 256 and 512 (plus RoPE with linear, dynamic and YaRN
# scaling). docs/experiments.md shows the results.
#
#   bench/experiments/length_experiment.sh [train|eval|all]   (default all)
#
# Environment: TINYGPT (binary, default .build/release/tinygpt), OUT (default
# runs/length), STEPS (default 2000), THREADS (default 1), POSITIONS (default
# "learned sinusoidal rope alibi t5 none").
set -euo pipefail
stage=${1:-all}
TINYGPT=${TINYGPT:-.build/release/tinygpt}
OUT=${OUT:-runs/length}
STEPS=${STEPS:-2000}
THREADS=${THREADS:-1}
DATA=data/corpus.txt
mkdir -p "$OUT"

# The held-out text: the last 10% of the corpus, which training never sees
# (data.val_fraction = 0.1 holds out the end of the token stream).
python3 - "$DATA" "$OUT/val.txt" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(text[int(len(text) * 0.9) + 1:])
PY

common=(--data "$DATA" --set tokenizer.type=char
        --set model.context_length=64 --set model.n_layer=4 --set model.d_model=128 --set model.n_head=4
        --set model.bias=false --set model.dropout=0
        --set train.batch_size=16 --set train.max_steps="$STEPS" --set train.lr=0.002 --set train.min_lr=0.0002
        --set train.warmup_steps=100 --set train.eval_interval=250 --set train.eval_steps=20
        --set train.threads="$THREADS" --set train.seed=1337)

if [[ $stage == train || $stage == all ]]; then
  for position in ${POSITIONS:-learned sinusoidal rope alibi t5 none}; do
    [[ -d $OUT/$position/best ]] && continue
    nice -n 19 "$TINYGPT" train "${common[@]}" --set model.position=$position --out "$OUT/$position" > "$OUT/$position.train.log" 2>&1
    tail -1 "$OUT/$position.train.log" >&2 || true
  done
fi

if [[ $stage == eval || $stage == all ]]; then
  results=$OUT/results.jsonl
  : > "$results"
  score() {  # name checkpoint context [--set ...]
    local name=$1 checkpoint=$2 context=$3; shift 3
    local json
    json=$(nice -n 19 "$TINYGPT" eval --checkpoint "$checkpoint" --data "$OUT/val.txt" --context "$context" --stride "$context" \
             --by-position --buckets 32 --svg "$OUT/$name-$context.svg" --json --threads "$THREADS" "$@" 2>/dev/null) || json='{"refused":true}'
    echo "{\"model\":\"$name\",\"context\":$context,\"result\":$json}" >> "$results"
    echo "$name @ $context: $json" | cut -c1-160 >&2
  }
  for context in 64 128 256 512; do
    for position in ${POSITIONS:-learned sinusoidal rope alibi t5 none}; do
      score "$position" "$OUT/$position" "$context"
    done
    factor=$((context / 64))
    if (( factor > 1 )); then
      score rope-linear "$OUT/rope" "$context" --set "model.rope_scaling={\"rope_type\":\"linear\",\"factor\":$factor}"
      score rope-dynamic "$OUT/rope" "$context" --set "model.rope_scaling={\"rope_type\":\"dynamic\",\"factor\":$factor}"
      score rope-yarn "$OUT/rope" "$context" --set "model.rope_scaling={\"rope_type\":\"yarn\",\"factor\":$factor}"
    fi
  done
  python3 bench/experiments/length_plot.py "$results" "$OUT/extrapolation.svg"
fi
