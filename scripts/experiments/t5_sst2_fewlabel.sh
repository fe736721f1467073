#!/usr/bin/env bash
# The T5 experiment of the training issue in a few-label setting: SST-2
# as text to text ("sst2 sentence: ..." -> positive / negative), 2,000
# labelled training phrases drawn with a fixed seed, the whole dev split
# (872) scored by exact match (= accuracy) every 100 steps.  Two arms side
# by side, one thread each, the same wall-clock BUDGET (1200 s):
#   scratch:  finetune-t5 --config tiny from random initialisation;
#   pretrain: pretrain-t5 --config tiny by span corruption on the
#             unlabelled text of all 67,349 SST-2 training phrases for
#             PRETRAIN seconds (800), then finetune-t5 -m for the rest.
# Fine-tuning: AdamW 3e-4 after 100 warm-up steps, batch 32; pretraining:
# Adafactor 1e-3 after 100 warm-up steps, 64-token inputs, batch 32.
# FORMAT=cloze (default: plain) asks the question in span-corruption
# form instead: input "<phrase> it was <extra_id_0> .", target
# "<extra_id_0> great" / "<extra_id_0> terrible" (dev references "great" /
# "terrible": decoding drops the sentinel), so the answer is the word a
# sentinel stands for, as in pretraining, not the decoder's first token.
# Usage: scripts/experiments/t5_sst2_fewlabel.sh OUT_DIR [T5E_BINARY]
set -euo pipefail
out=${1:?usage: t5_sst2_fewlabel.sh OUT_DIR [T5E_BINARY]}
bin=$(realpath "${2:-build/t5e}")
data=$(realpath ../shared/data)
budget=${BUDGET:-1200} pre=${PRETRAIN:-800}
vocab=$data/vocab/t5_spiece.model
mkdir -p "$out" && cd "$out"
label='NR > 1 {print $1 "\t" ($2 == 1 ? "positive" : "negative")}'
awk -F'\t' "$label" $data/glue_sst2/train.tsv > train_all.tsv
awk -F'\t' "$label" $data/glue_sst2/dev.tsv > dev.tsv
shuf -n 2000 --random-source=<(yes 2026) train_all.tsv > train2k.tsv
cut -f1 train_all.tsv > sst_text.txt
prefix="sst2 sentence: " tlen=4 ilen=64
if [ "${FORMAT:-plain}" = cloze ]; then
    cloze='{print $1 " it was <extra_id_0> .\t" s ($2 == "positive" ? "great" : "terrible")}'
    awk -F'\t' -v s="<extra_id_0> " "$cloze" train2k.tsv > train2k_cloze.tsv
    awk -F'\t' -v s="" "$cloze" dev.tsv > dev_cloze.tsv
    mv train2k_cloze.tsv train2k.tsv
    mv dev_cloze.tsv dev.tsv
    prefix="" tlen=5 ilen=72
fi
export OMP_WAIT_POLICY=passive
ft=(--train train2k.tsv --dev dev.tsv --task-prefix "$prefix"
    --metric exact_match --eval-examples 872 --optimizer adamw
    --learning-rate 3e-4 --warmup-steps 100 --batch-size 32
    --max-input-length $ilen --max-target-length $tlen --eval-steps 100
    --save-steps 100000 --logging-steps 25 --threads 1 --max-steps 100000)
"$bin" finetune-t5 --config tiny --vocab $vocab "${ft[@]}" \
    --output-dir scratch-ft --max-time $budget > scratch-ft.log 2>&1 &
(
    t0=$(date +%s)
    "$bin" pretrain-t5 --config tiny --vocab $vocab --train sst_text.txt \
        --input-length 64 --batch-size 32 --optimizer adafactor \
        --learning-rate 1e-3 --lr-schedule constant --warmup-steps 100 \
        --max-steps 100000 --save-steps 100000 --logging-steps 25 \
        --threads 1 --max-time $pre --output-dir pre-pt > pre-pt.log 2>&1
    rest=$((budget - ($(date +%s) - t0)))
    "$bin" finetune-t5 -m pre-pt "${ft[@]}" --output-dir pre-ft \
        --max-time $rest > pre-ft.log 2>&1
) &
wait
for arm in scratch-ft pre-ft; do
    python3 - "$arm" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"eval"' in l]
best = max(ev, key=lambda d: d["exact_match"])
print(f"{sys.argv[1]}: best dev accuracy {best['exact_match']:.4f} at step {best['step']}")
PY
done
