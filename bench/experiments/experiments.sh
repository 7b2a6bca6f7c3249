#!/usr/bin/env bash
# The curriculum experiments of docs/experiments.md, each one `tinygpt compare`
# on the shipped corpus: bash bench/experiments/experiments.sh [OUT] (after swift build -c release).
# Each writes OUT/NAME/report.md and curves.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
OUT=${1:-experiments}
COMMON=(--config configs/default.json --data data/corpus.txt --seeds 2 --budget steps=500
        --set train.eval_interval=100 --set train.eval_steps=10 --set train.warmup_steps=50)
run() { local name=$1; shift; echo "== $name"; "$T" compare --out "$OUT/$name" "${COMMON[@]}" "$@"; }

run positions    --vary model.position=learned,sinusoidal,rope,alibi
run norms        --vary model.norm=layernorm,rmsnorm --vary model.norm_position=pre,post
# Equal parameter count: a GLU has three d_model×d_ff matrices instead of two, so d_ff = 2/3 · 4 · 128 ≈ 341.
run activations  --vary model.activation+model.d_ff=gelu+512,swiglu+341,geglu+341,reglu+341
run attention    --vary model.n_kv_head=4,2,1
run optimizers   --vary train.optimizer=sgd,adam,adamw
run init         --vary model.init=gpt2,xavier,kaiming
# Dropout needs a corpus small enough to overfit: the first 20 KB.
head -c 20000 data/corpus.txt > "$OUT/small-corpus.txt"
"$T" compare --out "$OUT/dropout" --config configs/default.json --data "$OUT/small-corpus.txt" --seeds 2 --budget steps=500 \
    --set train.eval_interval=100 --set train.eval_steps=10 --set train.warmup_steps=50 --vary model.dropout=0,0.1,0.2
