#!/usr/bin/env bash
# The ELECTRA experiment of the training issue: does replaced-token
# detection pretraining help a tiny ELECTRA on SST-2?
#   pretrain:  `--size tiny` (disc E 128, H 128, 4 layers, 2 heads, F 512;
#              generator 1/4 wide) on ../shared/data/pretrain_en with the
#              BERT uncased vocabulary, for at most PRETRAIN_MINUTES (30)
#              minutes on both cores; the last 2000 lines of moby_dick.txt
#              are held out as --dev (detection AUC / F1 every 250 steps).
#   fine-tune: the pretrained discriminator and the same architecture
#              from random init (--from-scratch), 3 epochs each on
#              glue_sst2/train.tsv, evaluated on glue_sst2/dev.tsv; both
#              runs together, one thread each.
# Prints (and writes to OUT_DIR/results.txt) the best dev accuracy of both.
#
# Usage: scripts/experiments/electra_sst2.sh OUT_DIR [T5E_BINARY]
# Environment: PRETRAIN_STEPS (1000: about 30 minutes on 2 busy cores),
# PRETRAIN_MINUTES (30), FT_STEPS (default: 3 epochs).  SMOKE=1 runs a
# version of a few seconds end to end (6 steps each on small slices, the
# two variables still apply) to check the script itself.
set -euo pipefail
out=${1:?usage: electra_sst2.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
data=../shared/data
vocab=$data/vocab/bert_base_uncased_vocab.txt
pt_steps=${PRETRAIN_STEPS:-1000}
pt_minutes=${PRETRAIN_MINUTES:-30}
# the paper's 3 epochs (about 6300 steps, some 15 minutes) unless set
ft_len=(--num-epochs 3)
[ -n "${FT_STEPS:-}" ] && ft_len=(--max-steps "$FT_STEPS")
ft_eval=500
mkdir -p "$out/data"

# held-out text: the end of Moby Dick; the rest of the corpus trains
src=$data/pretrain_en
head -n -2000 $src/moby_dick.txt > "$out/data/moby_dick_train.txt"
tail -n 2000 $src/moby_dick.txt > "$out/data/dev.txt"
train_files=("$out/data/moby_dick_train.txt" $src/kjv_bible.txt
             $src/sotu.txt $src/tiny_shakespeare.txt)
sst_train=$data/glue_sst2/train.tsv
sst_dev=$data/glue_sst2/dev.tsv
pt_extra=(--batch-size 32 --save-steps 250 --eval-steps 250
          --eval-examples 128)
if [ "${SMOKE:-0}" = 1 ]; then
    pt_steps=${PRETRAIN_STEPS:-6} pt_minutes=${PRETRAIN_MINUTES:-2}
    ft_eval=3 ft_len=(--max-steps ${FT_STEPS:-6})
    head -c 300000 "$out/data/moby_dick_train.txt" > "$out/data/smoke.txt"
    train_files=("$out/data/smoke.txt")
    head -n 401 $sst_train > "$out/data/sst_train.tsv"
    head -n 101 $sst_dev > "$out/data/sst_dev.tsv"
    sst_train=$out/data/sst_train.tsv sst_dev=$out/data/sst_dev.tsv
    pt_extra=(--batch-size 8 --save-steps 3 --eval-steps 3
              --eval-examples 16 --warmup-steps 2)
fi

# 1. pretraining, stopped after pt_minutes at the latest (a stopped run
#    leaves its checkpoints; the newest one is then used)
set +e
timeout "${pt_minutes}m" "$bin" pretrain-electra --size tiny \
    --vocab $vocab --train "${train_files[@]}" --dev "$out/data/dev.txt" \
    --max-steps "$pt_steps" --threads 2 --logging-steps 10 \
    "${pt_extra[@]}" --output-dir "$out/pretrain" > "$out/pretrain.log" 2>&1
rc=$?
set -e
disc=$out/pretrain/discriminator
if [ $rc -eq 124 ]; then
    last=$(ls -d "$out"/pretrain/checkpoint-* | sort -t- -k2 -n | tail -1)
    echo "pretraining stopped after ${pt_minutes} minutes; using $last"
    disc=$last/discriminator
elif [ $rc -ne 0 ]; then
    echo "pretraining failed (exit $rc); see $out/pretrain.log" >&2
    exit 1
fi

# 2. fine-tuning, pretrained and from scratch side by side
ft=(--train "$sst_train" --dev "$sst_dev" --task sst2 "${ft_len[@]}"
    --batch-size 32 --learning-rate 3e-4 --layerwise-lr-decay 0.8
    --threads 1 --logging-steps 50 --eval-steps "$ft_eval")
( "$bin" train-classifier -m "$disc" "${ft[@]}" \
      --output-dir "$out/ft-pretrained" > "$out/ft-pretrained.log" 2>&1 ) &
p1=$!
( "$bin" train-classifier -m "$disc" --from-scratch "${ft[@]}" \
      --output-dir "$out/ft-scratch" > "$out/ft-scratch.log" 2>&1 ) &
p2=$!
wait $p1 && wait $p2

# 3. the best dev accuracy of each run (the selection metric)
best() {
    sed -n 's/.*"best_metric":[[:space:]]*\([-0-9.e]*\).*/\1/p' \
        "$1/best/trainer_state.json"
}
auc=$(grep '"event": "eval"' "$out/pretrain/metrics.jsonl" | tail -1 |
      sed -n 's/.*"disc_auc": \([-0-9.e]*\).*/\1/p')
{
    echo "pretraining: last held-out detection AUC ${auc:-?}"
    echo "SST-2 dev accuracy, pretrained:  $(best "$out/ft-pretrained")"
    echo "SST-2 dev accuracy, from scratch: $(best "$out/ft-scratch")"
} | tee "$out/results.txt"
