#!/usr/bin/env bash
# The architecture and training options of docs/experiments.md ("Options from the
# study documents"): bash bench/experiments/options_experiments.sh [OUT] (after swift build -c release).
# Each compare writes OUT/NAME/report.md and curves.svg; the prefix-LM experiment
# (fine-tuning, which compare does not run) writes OUT/prefix-lm/.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
OUT=${1:-experiments}
COMMON=(--config configs/default.json --data data/corpus.txt --seeds 2 --budget steps=500
        --set train.eval_interval=100 --set train.eval_steps=10 --set train.warmup_steps=50)
run() { local name=$1; shift; echo "== $name"; "$T" compare --out "$OUT/$name" "${COMMON[@]}" "$@"; }

run label-smoothing  --vary train.label_smoothing=0,0.1
run t5               --vary model.position=rope,alibi,t5
run plain-activations --vary model.activation=gelu,swish,sigmoid,tanh
# Gated, at the parameter count of GELU's d_ff 512 (three matrices of 341): Swish's β fixed at 1 (SwiGLU), 2, or learned.
run gated-activations --vary model.activation+model.d_ff+model.swish_beta=swiglu+341+1,swiglu+341+2,swiglu+341+learnable,glu+341+1
run zero-init        --vary model.zero_init_output=false,true

# Prefix LM against causal attention: SFT on data/sft.jsonl from the same base, two seeds each,
# then the completion loss on the 30 validation examples (the last 10% of the file).
mkdir -p "$OUT/prefix-lm"
"$T" train --config configs/default.json --data data/corpus.txt --out "$OUT/prefix-lm/base" --force --set train.max_steps=1000 \
    --set train.eval_interval=500 --set train.eval_steps=20
tail -n 30 data/sft.jsonl > "$OUT/prefix-lm/validation.jsonl"
for attention in causal prefix_lm; do
    for seed in 1337 1338; do
        "$T" train --config configs/sft.json --init-from "$OUT/prefix-lm/base" --out "$OUT/prefix-lm/$attention-$seed" --force \
            --set model.attention=$attention --set train.seed=$seed
        echo "$attention seed $seed: $("$T" eval --checkpoint "$OUT/prefix-lm/$attention-$seed/latest" --data "$OUT/prefix-lm/validation.jsonl")"
    done
done
