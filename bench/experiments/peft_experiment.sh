#!/usr/bin/env bash
# The PEFT family on SFT (docs/experiments.md, "PEFT: LoRA vs adapters vs prefix
# vs prompt tuning"): bash bench/experiments/peft_experiment.sh [OUT] (after swift build -c release).
# A base (the default preset at context 96, so that every example of data/sft.jsonl
# fits beside 16 virtual tokens) trained 1,000 steps on data/corpus.txt, then SFT with
# configs/sft.json from it: every weight, LoRA, bottleneck adapters, prefix tuning
# (through the MLP and direct) and prompt tuning. Prints, per run, the trainable
# parameters, the mean ms per step and the completion loss on the 30 held-out examples
# (the last 10% of the file, the training run's validation split).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
OUT=${1:-experiments/peft}
mkdir -p "$OUT"
"$T" train --config configs/default.json --data data/corpus.txt --out "$OUT/base" --force --set model.context_length=96 \
    --set train.max_steps=1000 --set train.eval_interval=500 --set train.eval_steps=20
tail -n 30 data/sft.jsonl > "$OUT/validation.jsonl"
echo "base, no fine-tuning: $("$T" eval --checkpoint "$OUT/base" --data "$OUT/validation.jsonl")" | tee "$OUT/base.txt"
runs=("full")
# The PEFT runs at two learning rates (the full run keeps configs/sft.json's 1e-3).
for lr in 0.005 0.02; do
    LR="--set train.lr=$lr --set train.min_lr=$(python3 -c "print($lr / 10)")"
    runs+=(
      "lora-$lr $LR --set lora.rank=4 --set lora.alpha=8 --set lora.targets=q,v"
      "adapter-$lr $LR --set adapter.bottleneck=4"
      "prefix-mlp-$lr $LR --set prefix_tuning.num_virtual_tokens=8"
      "prefix-direct-$lr $LR --set prefix_tuning.num_virtual_tokens=8 --set prefix_tuning.prefix_projection=false"
      "prompt-$lr $LR --set prompt_tuning.num_virtual_tokens=16"
    )
done
printf "| run | trainable | ms/step | held-out loss |\n|---|---:|---:|---:|\n" > "$OUT/table.md"
for spec in "${runs[@]}"; do
    read -r name settings <<< "$spec"
    # shellcheck disable=SC2086
    "$T" train --config configs/sft.json --init-from "$OUT/base" --out "$OUT/$name" --force $settings 2> "$OUT/$name.log"
    trainable=$(grep -oE '^[a-z_]+: [0-9,]+ trainable' "$OUT/$name.log" | grep -oE '[0-9,]+' || true)
    [ -n "$trainable" ] || trainable=$(grep -oE 'model: [0-9,]+ parameters' "$OUT/$name.log" | grep -oE '[0-9,]+')
    ms=$(python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; s=[x['ms_per_step'] for x in r if 'ms_per_step' in x]; print('%.1f' % (sum(s)/len(s)))" "$OUT/$name/metrics.jsonl")
    loss=$("$T" eval --checkpoint "$OUT/$name/latest" --data "$OUT/validation.jsonl" | grep -oE 'loss [0-9.]+' | head -1 | cut -d' ' -f2)
    echo "| $name | $trainable | $ms | $loss |" | tee -a "$OUT/table.md"
done
