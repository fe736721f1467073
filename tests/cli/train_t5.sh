#!/usr/bin/env bash
# CLI tests of `t5e finetune-t5` / `t5e pretrain-t5`: a few steps on the
# tiny fixture model, checkpoints in the reference layout, a run killed
# inside a checkpoint resumes to exactly the weights of an unbroken run.
# Prints "ok NAME" or "FAIL NAME" per check.
set -u
BIN=${T5E_BIN:-build/t5e}
M=tests/data/t5-tiny-v1.1
D=tests/data/t2t
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "FAIL $name"; fi
}

common=(-m $M --train $D/train.tsv --dev $D/dev.tsv --task-prefix
        "translate English to German: " --batch-size 4 --max-steps 4
        --save-steps 2 --eval-steps 2 --eval-examples 4 --threads 2
        --max-target-length 16 --max-input-length 32 --optimizer adamw
        --learning-rate 1e-3 --lr-schedule linear)

"$BIN" finetune-t5 "${common[@]}" --output-dir "$tmp/a" 2> "$tmp/a.log"
check "finetune exit 0" test $? -eq 0
for f in config.json model.safetensors spiece.model generation_config.json \
         metrics.jsonl checkpoint-4/optimizer.safetensors \
         checkpoint-4/trainer_state.json best/model.safetensors; do
    check "output $f" test -s "$tmp/a/$f"
done
check "config copied key for key" cmp -s $M/config.json "$tmp/a/config.json"
check "eval logged" grep -q '"event": "eval"' "$tmp/a/metrics.jsonl"
check "generate runs the result" "$BIN" generate -m "$tmp/a" "translate English to German: Hello."

# killed inside checkpoint 4: checkpoint 2 survives, resume ends equal
# (an inner shell takes the "Killed" notice, and it goes nowhere)
bash -c '"$@"; exit $?' _ "$BIN" finetune-t5 "${common[@]}" \
    --output-dir "$tmp/b" --kill-at-checkpoint 4 2> /dev/null
rc=$?
check "killed by SIGKILL" test $rc -eq 137
check "last good checkpoint kept" test -s "$tmp/b/checkpoint-2/trainer_state.json"
check "no half checkpoint" test ! -e "$tmp/b/checkpoint-4"
check "killed checkpoint loads" "$BIN" generate -m "$tmp/b/checkpoint-2" "translate English to German: Hi."
"$BIN" finetune-t5 "${common[@]}" --output-dir "$tmp/b" --resume 2> "$tmp/b2.log"
check "resume exit 0" test $? -eq 0
check "resumed from step 2" grep -q "at step 2" "$tmp/b2.log"
check "resume equals unbroken run" cmp -s "$tmp/a/checkpoint-4/model.safetensors" "$tmp/b/checkpoint-4/model.safetensors"

# pretraining by span corruption on a small corpus
head -c 20000 tests/data/corpus/pretrain_slice.txt > "$tmp/corpus.txt"
"$BIN" pretrain-t5 --train "$tmp/corpus.txt" --vocab $M/spiece.model \
    --config $M/config.json --output-dir "$tmp/p" --max-steps 2 --batch-size 2 \
    --input-length 32 --save-steps 2 --threads 2 2> "$tmp/p.log"
check "pretrain exit 0" test $? -eq 0
check "pretrain shard" test -s "$tmp/p/train.shard"
check "pretrained model generates" "$BIN" generate -m "$tmp/p" --max-new-tokens 3 "hello"
# T5's pretraining Adafactor: steps scaled by each parameter's RMS
"$BIN" pretrain-t5 --train "$tmp/corpus.txt" --vocab $M/spiece.model \
    --config $M/config.json --output-dir "$tmp/ps" --max-steps 2 --batch-size 2 \
    --input-length 32 --save-steps 2 --threads 2 --adafactor-scale-parameter 2> /dev/null
check "scale-parameter pretrain exit 0" test $? -eq 0
check "scale-parameter changes the steps" bash -c '! cmp -s "$1" "$2"' _ \
    "$tmp/p/model.safetensors" "$tmp/ps/model.safetensors"
"$BIN" finetune-t5 "${common[@]}" --adafactor-scale-parameter --output-dir "$tmp/c" 2> "$tmp/err"
check "scale-parameter with adamw exit 2" test $? -eq 2
check "scale-parameter with adamw says why" grep -q "needs --optimizer adafactor" "$tmp/err"

# bad input
"$BIN" pretrain-t5 --train "$tmp/corpus.txt" --vocab tests/data/tokenizers/t5/spiece.model \
    --config $M/config.json --output-dir "$tmp/q" --max-steps 1 2> "$tmp/err"
check "vocab too small exit 1" test $? -eq 1
check "vocab too small named" grep -q "vocab_size 1152" "$tmp/err"
"$BIN" finetune-t5 -m /no/such --train $D/train.tsv --output-dir "$tmp/c" 2> "$tmp/err"
check "missing model exit 1" test $? -eq 1
check "missing model named" grep -q "/no/such" "$tmp/err"
"$BIN" finetune-t5 -m $M --output-dir "$tmp/c" 2> "$tmp/err"
check "no --train exit 2" test $? -eq 2
"$BIN" finetune-t5 --help > "$tmp/help"
for o in output-dir max-steps batch-size learning-rate optimizer seed resume \
         task-prefix train dev; do
    check "help --$o" grep -q -- "--$o" "$tmp/help"
done

# evaluation of a model on pairs
"$BIN" evaluate-t5 -m "$tmp/a" --dev $D/dev.tsv --max-target-length 8 \
    --task-prefix "translate English to German: " > "$tmp/eval.json"
check "evaluate-t5 exit 0" test $? -eq 0
check "evaluate-t5 json" grep -q '"examples": 16, "bleu": ' "$tmp/eval.json"
