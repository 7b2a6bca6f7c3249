#!/usr/bin/env bash
# Knowledge distillation (docs/experiments.md): a 4-layer student distilled from a
# gpt2-style teacher against the same student trained alone, at equal steps and at
# equal wall time. bash bench/experiments/distill_experiment.sh DATA [OUT] (after swift build -c release);
# DATA is tinyshakespeare (nanoGPT's input.txt, 1,115,394 bytes; not in the repository).
# Prints a table of validation losses and the interleaved steps/s ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
DATA=${1:?usage: bench/experiments/distill_experiment.sh DATA [OUT]}
OUT=${2:-runs/distill}
TEACHER_STEPS=${TEACHER_STEPS:-400}
STEPS=${STEPS:-300}
# Every run: the gpt2-style preset's BPE (512 tokens) and shape at context 128, batch 8.
COMMON=(--config configs/gpt2-style.json --data "$DATA" --force --set model.context_length=128 --set train.batch_size=8
        --set train.eval_steps=50)
STUDENT=(--set model.n_layer=4 --set model.d_model=128 --set model.n_head=4 --set model.n_kv_head=4)
DISTILL=(--teacher "$OUT/teacher" --set train.objective=distill)
mkdir -p "$OUT"
val() { grep val_loss "$1/metrics.jsonl" | tail -n 1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'; }
ms() { grep -o '[0-9.]* ms/step' "$1" | tail -n 1 | cut -d' ' -f1; }

# TEACHER_DONE=1 reuses a teacher this script trained before in OUT/teacher.
if [ -z "${TEACHER_DONE:-}" ]; then
    echo "== teacher: gpt2-style (6 layers, d_model 384), $TEACHER_STEPS steps"
    "$T" train "${COMMON[@]}" --out "$OUT/teacher" --set train.max_steps=$TEACHER_STEPS --set train.eval_interval=$TEACHER_STEPS
fi
echo "== student alone, $STEPS steps"
"$T" train "${COMMON[@]}" "${STUDENT[@]}" --out "$OUT/alone" --set train.max_steps=$STEPS --set train.eval_interval=$STEPS
# The student alone builds its BPE from the same text and settings: it must be the teacher's for the losses to compare.
cmp "$OUT/alone/tokenizer.json" "$OUT/teacher/tokenizer.json"
echo "== student distilled (T 2, alpha 0.5), $STEPS steps"
"$T" train "${COMMON[@]}" "${STUDENT[@]}" "${DISTILL[@]}" --out "$OUT/distilled" --set train.max_steps=$STEPS --set train.eval_interval=$STEPS

# Steps/s of a distill step against a plain one, interleaved (the machine is shared): 3 × 30 steps each.
ratios=()
for i in 1 2 3; do
    "$T" train "${COMMON[@]}" "${STUDENT[@]}" "${DISTILL[@]}" --out "$OUT/timing" --set train.max_steps=30 --set train.log_interval=30 \
        --set train.warmup_steps=0 --set train.eval_interval=30 --set train.eval_steps=1 > "$OUT/timing-distill-$i.log"
    "$T" train "${COMMON[@]}" "${STUDENT[@]}" --out "$OUT/timing" --set train.max_steps=30 --set train.log_interval=30 \
        --set train.warmup_steps=0 --set train.eval_interval=30 --set train.eval_steps=1 > "$OUT/timing-alone-$i.log"
    d=$(ms "$OUT/timing-distill-$i.log"); a=$(ms "$OUT/timing-alone-$i.log")
    echo "timing $i: distill $d ms/step, alone $a ms/step"
    ratios+=("$(python3 -c "print($d / $a)")")
done
ratio=$(python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}")
equal=$(python3 -c "print(round($STEPS * $ratio))")
echo "== student alone at the distilled run's wall time: $equal steps (median ratio $ratio)"
"$T" train "${COMMON[@]}" "${STUDENT[@]}" --out "$OUT/alone-equal-time" --set train.max_steps=$equal --set train.eval_interval=$equal

echo
echo "| model | steps | validation loss |"
echo "|---|---:|---:|"
echo "| teacher (gpt2-style) | $TEACHER_STEPS | $(val "$OUT/teacher") |"
echo "| student alone | $STEPS | $(val "$OUT/alone") |"
echo "| student distilled | $STEPS | $(val "$OUT/distilled") |"
echo "| student alone, equal wall time | $equal | $(val "$OUT/alone-equal-time") |"
