#!/usr/bin/env bash
# Tokenizers at equal vocabulary (docs/experiments.md, "Tokenizers: BPE vs WordPiece vs
# Unigram vs characters"): bash bench/experiments/tokenizer_experiment.sh [OUT] (after swift build -c release).
# The same model and budget as the curriculum's comparisons, trained on data/corpus.txt with each
# tokenizer; compare's bits per byte puts the losses on one scale. Writes OUT/tokenizers-V/
# (report.md, curves.svg) for V = 512 and 1024, OUT/char-1100/, then each tokenizer's token count for the corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${TINYGPT:-.build/release/tinygpt}
OUT=${1:-experiments}
COMMON=(--config configs/default.json --data data/corpus.txt --seeds 2 --budget steps=500
        --set train.eval_interval=100 --set train.eval_steps=10 --set train.warmup_steps=50)

# char's vocabulary is the corpus's distinct characters (75), whatever tokenizer.vocab_size says.
echo "== tokenizers-512"
"$T" compare --out "$OUT/tokenizers-512" "${COMMON[@]}" --set tokenizer.vocab_size=512 \
    --vary tokenizer.type=char,bpe,wordpiece,unigram
echo "== tokenizers-1024"
"$T" compare --out "$OUT/tokenizers-1024" "${COMMON[@]}" --set tokenizer.vocab_size=1024 \
    --vary tokenizer.type=bpe,wordpiece,unigram

# Characters at equal text instead of equal steps: 1100 steps of 768 characters are about the
# bytes the 512-id BPE and Unigram models read in 500 steps (2.07 and 2.23 bytes per token).
echo "== char-1100"
"$T" compare --out "$OUT/char-1100" "${COMMON[@]}" --budget steps=1100 --vary tokenizer.type=char

# Tokens for the whole corpus (129,752 bytes) with each run's tokenizer (the seeds share one).
for run in "$OUT"/tokenizers-*/runs/*-seed1337; do
    printf '%s: %s tokens\n' "$run" "$("$T" tokenizer encode --tokenizer "$run/tokenizer.json" --file data/corpus.txt | wc -w)"
done
