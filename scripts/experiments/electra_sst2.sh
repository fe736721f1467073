#!/usr/bin/env bash
# The ELECTRA experiment of the training issue: does replaced-token
# detection pretraining help a tiny ELECTRA on GLUE tasks?
#   pretrain:  `--size tiny` (disc E 128, H 128, 4 layers, 2 heads, F 512;
#              generator 1/4 wide) with the BERT uncased vocabulary, for
#              at most PRETRAIN_MINUTES (30) of both cores, on
#              ../shared/data/pretrain_en plus the unlabelled sentences of
#              the SST-2 and CoLA training splits (in-domain text; their
#              labels are not read); the last 2000 lines of moby_dick.txt
#              are held out as --dev (detection AUC / F1 every 250 steps).
#              25% of tokens are masked (ELECTRA-Large's rate): more
#              replaced tokens per step for a short run.
#   fine-tune: the pretrained discriminator and the same architecture
#              from random init (--from-scratch), on SST-2 and CoLA with
#              seeds 1 and 2, evaluated on their dev splits; two runs at a
#              time, one thread each.
# Prints (and writes to OUT_DIR/results.txt) the best dev figures.
#
# With VOCAB_SIZE=N the vocabulary is BERT's pruned to the N pieces the
# training text uses most (scripts/experiments/prune_vocab.py), every
# character the text uses kept, so no piece goes untrained.
# Usage: scripts/experiments/electra_sst2.sh OUT_DIR [T5E_BINARY]
# Environment: PRETRAIN_STEPS (4500: the schedule's length, about what
# 30 quiet minutes hold), PRETRAIN_MINUTES (30), EPOCHS (3), VOCAB_SIZE
# (0: BERT's 30522), LR (5e-4), WARMUP (300), MASK_PROB (0.25).  SMOKE=1
# runs a version of a few seconds end to end to check the script itself.
set -euo pipefail
out=${1:?usage: electra_sst2.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
data=../shared/data
vocab=$data/vocab/bert_base_uncased_vocab.txt
pt_steps=${PRETRAIN_STEPS:-4500}
pt_minutes=${PRETRAIN_MINUTES:-30}
epochs=${EPOCHS:-3}
mkdir -p "$out/data"

# held-out text: the end of Moby Dick; the rest of the corpus trains
src=$data/pretrain_en
head -n -2000 $src/moby_dick.txt > "$out/data/moby_dick_train.txt"
tail -n 2000 $src/moby_dick.txt > "$out/data/dev.txt"
tail -n +2 $data/glue_sst2/train.tsv | cut -f1 > "$out/data/sst2_text.txt"
cut -f4 $data/glue_cola/train.tsv > "$out/data/cola_text.txt"
train_files=("$out/data/moby_dick_train.txt" $src/kjv_bible.txt
             $src/sotu.txt $src/tiny_shakespeare.txt
             "$out/data/sst2_text.txt" "$out/data/cola_text.txt")
sst_train=$data/glue_sst2/train.tsv sst_dev=$data/glue_sst2/dev.tsv
cola_train=$data/glue_cola/train.tsv cola_dev=$data/glue_cola/dev.tsv
pt_extra=(--batch-size 32 --save-steps 500 --eval-steps 250
          --eval-examples 256 --warmup-steps "${WARMUP:-300}")
ft_len=(--num-epochs "$epochs")
if [ "${SMOKE:-0}" = 1 ]; then
    pt_steps=${PRETRAIN_STEPS:-6} pt_minutes=${PRETRAIN_MINUTES:-1}
    head -c 300000 "$out/data/moby_dick_train.txt" > "$out/data/smoke.txt"
    train_files=("$out/data/smoke.txt")
    head -n 401 $sst_train > "$out/data/sst_train.tsv"
    head -n 101 $sst_dev > "$out/data/sst_dev.tsv"
    head -n 400 $cola_train > "$out/data/cola_train.tsv"
    head -n 100 $cola_dev > "$out/data/cola_dev.tsv"
    sst_train=$out/data/sst_train.tsv sst_dev=$out/data/sst_dev.tsv
    cola_train=$out/data/cola_train.tsv cola_dev=$out/data/cola_dev.tsv
    pt_extra=(--batch-size 8 --save-steps 3 --eval-steps 3
              --eval-examples 16 --warmup-steps 2)
    ft_len=(--max-steps 6)
fi

# 0. the vocabulary fitted to the training text, if asked for
if [ "${VOCAB_SIZE:-0}" -gt 0 ]; then
    cat "${train_files[@]}" |
        "$bin" tokenize -m $vocab --no-special | awk 'NR % 2 == 0' |
        tr ' ' '\n' | grep -v '^$' | sort | uniq -c | sort -rn \
        > "$out/data/piece_counts.txt"
    python3 "$(dirname "$0")/prune_vocab.py" $vocab \
        "$out/data/piece_counts.txt" "$VOCAB_SIZE" "$out/data/vocab.txt"
    vocab=$out/data/vocab.txt
fi

# 1. pretraining, ended by the time budget at the latest
"$bin" pretrain-electra --size tiny --vocab $vocab \
    --train "${train_files[@]}" --dev "$out/data/dev.txt" \
    --mask-prob "${MASK_PROB:-0.25}" --learning-rate "${LR:-5e-4}" \
    --max-steps "$pt_steps" \
    --max-time $((pt_minutes * 60)) --threads 2 --logging-steps 10 \
    "${pt_extra[@]}" --output-dir "$out/pretrain" > "$out/pretrain.log" 2>&1
disc=$out/pretrain/discriminator

# 2. fine-tuning: pretrained and from scratch, per task and seed
ft() { # task train dev seed arm [extra...]
    local task=$1 train=$2 dev=$3 seed=$4 arm=$5
    shift 5
    "$bin" train-classifier -m "$disc" "$@" --train "$train" --dev "$dev" \
        --task "$task" --metric "$([ "$task" = cola ] && echo mcc ||
                                   echo accuracy)" \
        "${ft_len[@]}" --batch-size 32 --learning-rate 3e-4 \
        --layerwise-lr-decay 0.8 --seed "$seed" --threads 1 \
        --logging-steps 50 --output-dir "$out/ft-$task-$arm-$seed" \
        > "$out/ft-$task-$arm-$seed.log" 2>&1
}
for task in sst2 cola; do
    train=$([ $task = sst2 ] && echo "$sst_train" || echo "$cola_train")
    dev=$([ $task = sst2 ] && echo "$sst_dev" || echo "$cola_dev")
    for seed in 1 2; do
        ft $task "$train" "$dev" $seed pretrained &
        ft $task "$train" "$dev" $seed scratch --from-scratch &
        wait
    done
done

# 3. the best dev figure of each run (the selection metric)
best() {
    sed -n 's/.*"best_metric":[[:space:]]*\([-0-9.e]*\).*/\1/p' \
        "$1/best/trainer_state.json"
}
auc=$(grep '"event": "eval"' "$out/pretrain/metrics.jsonl" |
      sed -n 's/.*"disc_auc": \([-0-9.e]*\).*/\1/p' | sort -g | tail -1)
{
    echo "pretraining: best held-out detection AUC ${auc:-?}"
    for task in sst2 cola; do
        for arm in pretrained scratch; do
            printf '%s %-10s' $task $arm
            for seed in 1 2; do
                printf ' %s' "$(best "$out/ft-$task-$arm-$seed")"
            done
            echo
        done
    done
} | tee "$out/results.txt"
