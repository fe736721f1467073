#!/usr/bin/env bash
# The T5 experiment of the training issue: a tiny T5 (config "tiny":
# d_model 128, 4+4 layers, the real T5 spiece.model) translating English
# to German on Tatoeba, about 55 minutes of one core each:
#   scratch:   fine-tuned from random initialisation, 6000 steps;
#   pretrain:  span-corruption pretraining on ../shared/data/pretrain_en
#              for 2000 steps, then fine-tuned for 3000 steps.
# Both runs start together, one thread each, on the 2-core machine.
# Usage: scripts/experiments/t5_tatoeba.sh OUT_DIR [T5E_BINARY]
set -euo pipefail
out=${1:?usage: t5_tatoeba.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
data=../shared/data
vocab=$data/vocab/t5_spiece.model
mkdir -p "$out"
ft=(--train $data/tatoeba_en_de/train.tsv --dev $data/tatoeba_en_de/dev.tsv
    --task-prefix "translate English to German: " --batch-size 32
    --max-input-length 48 --max-target-length 48 --optimizer adafactor
    --learning-rate 1e-3 --lr-schedule constant --eval-steps 500
    --eval-examples 300 --save-steps 1000 --threads 1 --logging-steps 50)

( "$bin" finetune-t5 --config tiny --vocab $vocab "${ft[@]}" \
      --max-steps 6000 --output-dir "$out/scratch" \
      > "$out/scratch.log" 2>&1 ) &
( "$bin" pretrain-t5 --config tiny --vocab $vocab \
      --train $data/pretrain_en/*.txt --input-length 64 --batch-size 32 \
      --max-steps 2000 --save-steps 1000 --threads 1 --logging-steps 50 \
      --output-dir "$out/pretrain" > "$out/pretrain.log" 2>&1 &&
  "$bin" finetune-t5 -m "$out/pretrain" "${ft[@]}" --max-steps 3000 \
      --output-dir "$out/pretrain-ft" > "$out/pretrain-ft.log" 2>&1 ) &
wait
