#!/usr/bin/env bash
# The T5 experiment of the training issue: a tiny T5 (config "tiny":
# d_model 128, 4+4 layers, the real T5 spiece.model) translating English
# to German on Tatoeba, the same wall-clock budget of one core per arm:
#   scratch:   fine-tuned from random initialisation for BUDGET seconds;
#   pretrain:  span-corruption pretraining (noise density 0.15, mean span
#              3) for PRETRAIN seconds on the unpaired sentences of the
#              Tatoeba training split (English and German sides as two
#              separate text files: no translation pairs are seen), then
#              fine-tuned for the rest of BUDGET.
# Both arms start together, one thread each, on the 2-core machine.
# With PAIRS=N both arms fine-tune on N pairs drawn from the training
# split with a fixed seed (the low-resource setting: few translation
# pairs, the whole split's sentences as unpaired monolingual text).
# Usage: scripts/experiments/t5_tatoeba.sh OUT_DIR [T5E_BINARY]
# Environment: BUDGET (2400 s), PRETRAIN (720 s), PAIRS (0: all),
# EVAL_EXAMPLES (300), OPTIMIZER (adafactor) and LR (1e-3) for
# fine-tuning and, unless PT_OPTIMIZER / PT_LR say otherwise, for
# pretraining; FT_WARMUP (0) warm-up steps of fine-tuning.  SMOKE=1 runs
# a version of a few seconds end to end on small slices to check the
# script itself.
set -euo pipefail
out=${1:?usage: t5_tatoeba.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
data=../shared/data
vocab=$data/vocab/t5_spiece.model
budget=${BUDGET:-2400}
pretrain=${PRETRAIN:-720}
train=$data/tatoeba_en_de/train.tsv
dev=$data/tatoeba_en_de/dev.tsv
eval_steps=500 eval_examples=${EVAL_EXAMPLES:-300}
pairs=${PAIRS:-0}
opt=${OPTIMIZER:-adafactor} lr=${LR:-1e-3} ft_warmup=${FT_WARMUP:-0}
pt_opt=${PT_OPTIMIZER:-$opt} pt_lr=${PT_LR:-$lr}
mkdir -p "$out/data"
if [ "${SMOKE:-0}" = 1 ]; then
    budget=${BUDGET:-12} pretrain=${PRETRAIN:-4}
    head -n 2000 "$train" > "$out/data/train.tsv"
    head -n 20 "$dev" > "$out/data/dev.tsv"
    train=$out/data/train.tsv dev=$out/data/dev.tsv
    eval_steps=5 eval_examples=10
fi
cut -f1 "$train" > "$out/data/train_en.txt"
cut -f2 "$train" > "$out/data/train_de.txt"
if [ "$pairs" -gt 0 ]; then
    # the file is sorted by length: a seeded shuffle, not its head
    shuf -n "$pairs" --random-source=<(yes 2026) "$train" \
        > "$out/data/train_pairs.tsv"
    train=$out/data/train_pairs.tsv
fi

ft=(--train "$train" --dev "$dev"
    --task-prefix "translate English to German: " --batch-size 32
    --max-input-length 48 --max-target-length 48 --optimizer "$opt"
    --learning-rate "$lr" --lr-schedule constant --max-steps 1000000
    --warmup-steps "$ft_warmup"
    --eval-steps $eval_steps --eval-examples $eval_examples
    --save-steps 1000 --threads 1 --logging-steps 50)

( "$bin" finetune-t5 --config tiny --vocab $vocab "${ft[@]}" \
      --max-time "$budget" --output-dir "$out/scratch" \
      > "$out/scratch.log" 2>&1 ) &
(
  t0=$(date +%s)
  "$bin" pretrain-t5 --config tiny --vocab $vocab \
      --train "$out/data/train_en.txt" "$out/data/train_de.txt" \
      --input-length 64 --batch-size 32 --optimizer "$pt_opt" \
      --learning-rate "$pt_lr" --lr-schedule constant --max-steps 1000000 \
      --warmup-steps 100 --max-time "$pretrain" --save-steps 1000 --threads 1 \
      --logging-steps 50 --output-dir "$out/pretrain" \
      > "$out/pretrain.log" 2>&1
  used=$(( $(date +%s) - t0 ))
  echo "$used" > "$out/pretrain.seconds"
  "$bin" finetune-t5 -m "$out/pretrain" "${ft[@]}" \
      --max-time $(( budget > used ? budget - used : 1 )) \
      --output-dir "$out/pretrain-ft" > "$out/pretrain-ft.log" 2>&1
) &
wait
used=$(cat "$out/pretrain.seconds")
echo "pretraining took $used s of the ${budget} s budget"
# the curves against the wall clock of each arm (pretraining included)
wall() { # metrics.jsonl, seconds before it -> the same with "wall"
    awk -v off="$2" '{ if (match($0, /"time": [0-9.]+/)) {
        t = substr($0, RSTART + 8, RLENGTH - 8) + off
        sub(/^\{/, "{\"wall\": " t ", ") } print }' "$1"
}
wall "$out/scratch/metrics.jsonl" 0 > "$out/scratch.wall.jsonl"
wall "$out/pretrain-ft/metrics.jsonl" "$used" > "$out/pretrain-ft.wall.jsonl"
"$bin" plot "$out/scratch.wall.jsonl" "$out/pretrain-ft.wall.jsonl" \
    --x wall --keys bleu --title "Tatoeba en-de dev BLEU against seconds \
of one core (pretraining included)" -o "$out/bleu.svg" > /dev/null || true
"$bin" plot "$out/scratch.wall.jsonl" "$out/pretrain-ft.wall.jsonl" \
    --x wall --keys loss --title "training loss against seconds of one \
core (pretraining included)" -o "$out/loss.svg" > /dev/null || true
for arm in scratch pretrain-ft; do
    printf '%-12s best dev ' "$arm"
    grep '"eval"' "$out/$arm/metrics.jsonl" | sed 's/.*"bleu": \([0-9.e-]*\).*/\1/' |
        sort -g | tail -1
done | tee "$out/results.txt"
