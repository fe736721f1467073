#!/usr/bin/env bash
# CLI tests of `t5e pretrain-electra` / `t5e train-classifier`: a few
# steps on the tiny fixture shapes, outputs that detect / fill-mask /
# classify load as they are, a run killed inside a checkpoint resumes to
# exactly the weights of an unbroken run, and bad input named.
# Prints "ok NAME" or "FAIL NAME" per check.
set -u
BIN=${T5E_BIN:-build/t5e}
DISC=tests/data/electra-tiny-discriminator
GEN=tests/data/electra-tiny-generator
SST=tests/data/glue/sst2_dev_head.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "FAIL $name"; fi
}

head -c 20000 tests/data/corpus/pretrain_slice.txt > "$tmp/corpus.txt"
tail -c 4000 tests/data/corpus/pretrain_slice.txt > "$tmp/dev.txt"
common=(--train "$tmp/corpus.txt" --vocab $DISC/vocab.txt
        --discriminator-config $DISC/config.json
        --generator-config $GEN/config.json --batch-size 4
        --max-seq-length 32 --max-steps 4 --save-steps 2 --warmup-steps 1
        --learning-rate 1e-3 --threads 2)

# pretraining with held-out evaluation
"$BIN" pretrain-electra "${common[@]}" --dev "$tmp/dev.txt" \
    --eval-steps 2 --eval-examples 8 --output-dir "$tmp/a" 2> "$tmp/a.log"
check "pretrain exit 0" test $? -eq 0
for f in train.shard dev.shard metrics.jsonl discriminator/config.json \
         discriminator/model.safetensors discriminator/vocab.txt \
         discriminator/tokenizer_config.json generator/config.json \
         generator/model.safetensors generator/vocab.txt \
         checkpoint-4/optimizer.safetensors checkpoint-4/trainer_state.json \
         checkpoint-4/discriminator/model.safetensors; do
    check "output $f" test -s "$tmp/a/$f"
done
# held-out AUC is logged but picks no model: the output is the last step's
check "pretraining keeps no best/" test ! -e "$tmp/a/best"
check "final discriminator is the last checkpoint's" cmp -s \
    "$tmp/a/discriminator/model.safetensors" \
    "$tmp/a/checkpoint-4/discriminator/model.safetensors"
check "step metrics logged" grep -q '"gen_loss": .*"disc_loss": .*"disc_acc"' "$tmp/a/metrics.jsonl"
check "eval logged" grep -q '"event": "eval", "disc_auc": .*"disc_f1"' "$tmp/a/metrics.jsonl"
check "discriminator architecture" grep -q ElectraForPreTraining "$tmp/a/discriminator/config.json"
check "generator architecture" grep -q ElectraForMaskedLM "$tmp/a/generator/config.json"
check "detect runs the result" "$BIN" detect -m "$tmp/a/discriminator" "the cat sat on the mat"
check "fill-mask runs the result" "$BIN" fill-mask -m "$tmp/a/generator" "the cat [MASK] on the mat"

# relative positions: the configs say so, and the outputs run as they are
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type relative_key_query \
    --output-dir "$tmp/rel" 2> "$tmp/rel.log"
check "relative pretrain exit 0" test $? -eq 0
check "relative config written" grep -q '"position_embedding_type":.*"relative_key_query"' \
    "$tmp/rel/discriminator/config.json"
check "relative generator config written" grep -q '"relative_key_query"' \
    "$tmp/rel/generator/config.json"
check "relative distance tables saved" grep -q "attention.self.distance_embedding.weight" \
    "$tmp/rel/discriminator/model.safetensors"
check "detect runs the relative model" "$BIN" detect -m "$tmp/rel/discriminator" "the cat sat on the mat"
check "fill-mask runs the relative model" "$BIN" fill-mask -m "$tmp/rel/generator" "the cat [MASK] on the mat"
"$BIN" train-classifier -m "$tmp/rel/discriminator" --train $SST --dev $SST \
    --max-steps 2 --batch-size 4 --output-dir "$tmp/relc" 2> /dev/null
check "relative classifier trains" test $? -eq 0
check "classify runs the relative classifier" "$BIN" classify -m "$tmp/relc" "a fine film"
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type rotary \
    --output-dir "$tmp/q" 2> "$tmp/err"
check "unknown position type exit 2" test $? -eq 2
check "unknown position type named" grep -q "rotary" "$tmp/err"
# the locality prior: taken with relative positions, refused without
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type relative_key_query \
    --local-attention-init 4 --output-dir "$tmp/loc" 2> /dev/null
check "local-attention-init exit 0" test $? -eq 0
check "local-attention-init changes the model" bash -c '! cmp -s "$1" "$2"' _ \
    "$tmp/rel/discriminator/model.safetensors" "$tmp/loc/discriminator/model.safetensors"
check "local-attention-init model detects" "$BIN" detect -m "$tmp/loc/discriminator" "the cat sat on the mat"
"$BIN" pretrain-electra "${common[@]}" --local-attention-init 4 \
    --output-dir "$tmp/q" 2> "$tmp/err"
check "local-attention-init without relative positions fails" test $? -ne 0
check "local-attention-init error says why" grep -q "needs relative positions" "$tmp/err"
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type relative_key \
    --local-attention-init -1 --output-dir "$tmp/q" 2> "$tmp/err"
check "negative local-attention-init exit 2" test $? -eq 2
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type relative_key_query \
    --local-attention-init 4 --local-attention-heads 1 --output-dir "$tmp/loc1" 2> /dev/null
check "local-attention-heads 1 exit 0" test $? -eq 0
check "local-attention-heads 1 differs from all heads" bash -c '! cmp -s "$1" "$2"' _ \
    "$tmp/loc/discriminator/model.safetensors" "$tmp/loc1/discriminator/model.safetensors"
"$BIN" pretrain-electra "${common[@]}" --position-embedding-type relative_key \
    --local-attention-init 4 --local-attention-heads x --output-dir "$tmp/q" 2> /dev/null
check "bad local-attention-heads exit 2" test $? -eq 2

# killed inside checkpoint 4: checkpoint 2 survives, resume ends equal
"$BIN" pretrain-electra "${common[@]}" --output-dir "$tmp/u" 2> /dev/null
check "unbroken run exit 0" test $? -eq 0
bash -c '"$@"; exit $?' _ "$BIN" pretrain-electra "${common[@]}" \
    --output-dir "$tmp/b" --kill-at-checkpoint 4 2> /dev/null
rc=$?
check "killed by SIGKILL" test $rc -eq 137
check "last good checkpoint kept" test -s "$tmp/b/checkpoint-2/trainer_state.json"
check "no half checkpoint" test ! -e "$tmp/b/checkpoint-4"
check "killed checkpoint loads" "$BIN" detect -m "$tmp/b/checkpoint-2/discriminator" "hello there"
"$BIN" pretrain-electra "${common[@]}" --output-dir "$tmp/b" --resume 2> "$tmp/b2.log"
check "resume exit 0" test $? -eq 0
check "resumed from step 2" grep -q "at step 2" "$tmp/b2.log"
for m in discriminator generator; do
    check "resume equals unbroken run ($m)" cmp -s \
        "$tmp/u/checkpoint-4/$m/model.safetensors" \
        "$tmp/b/checkpoint-4/$m/model.safetensors"
done
check "resume equals unbroken optimizer" cmp -s \
    "$tmp/u/checkpoint-4/optimizer.safetensors" \
    "$tmp/b/checkpoint-4/optimizer.safetensors"

# fine-tuning the pretrained discriminator as a classifier
cls=(--train $SST --dev $SST --batch-size 2 --max-seq-length 32
     --num-epochs 2 --threads 2 --learning-rate 1e-3)
"$BIN" train-classifier -m "$tmp/a/discriminator" "${cls[@]}" \
    --output-dir "$tmp/c" 2> "$tmp/c.log"
check "classifier exit 0" test $? -eq 0
check "classifier architecture" grep -q ElectraForSequenceClassification "$tmp/c/config.json"
check "classifier label names" grep -q '"negative"' "$tmp/c/config.json"
check "classifier eval logged" grep -q \
    '"event": "eval", "accuracy": .*"f1": .*"mcc"' "$tmp/c/metrics.jsonl"
check "classifier best kept" test -s "$tmp/c/best/model.safetensors"
"$BIN" classify -m "$tmp/c" "a charming journey" > "$tmp/cls.out" 2>&1
check "classify runs the result" test $? -eq 0
check "classify prints a label name" grep -Eq 'positive|negative' "$tmp/cls.out"
"$BIN" train-classifier -m $DISC "${cls[@]}" --from-scratch --max-steps 2 \
    --output-dir "$tmp/s" 2> /dev/null
check "from-scratch exit 0" test $? -eq 0
check "from-scratch differs" \
    bash -c "! cmp -s '$tmp/s/model.safetensors' '$tmp/c/model.safetensors'"

# classifier: killed inside checkpoint 4, resumed, equal to unbroken
rs=(-m $DISC --train tests/data/glue/rte_dev_head.tsv --batch-size 2
    --max-seq-length 32 --max-steps 4 --save-steps 2 --threads 2)
"$BIN" train-classifier "${rs[@]}" --output-dir "$tmp/cu" 2> /dev/null
bash -c '"$@"; exit $?' _ "$BIN" train-classifier "${rs[@]}" \
    --output-dir "$tmp/cb" --kill-at-checkpoint 4 2> /dev/null
check "classifier killed by SIGKILL" test $? -eq 137
"$BIN" train-classifier "${rs[@]}" --output-dir "$tmp/cb" --resume 2> /dev/null
check "classifier resume exit 0" test $? -eq 0
check "classifier resume equals unbroken run" cmp -s \
    "$tmp/cu/checkpoint-4/model.safetensors" \
    "$tmp/cb/checkpoint-4/model.safetensors"
check "pair task labels" grep -q '"not_entailment"' "$tmp/cu/config.json"

# bad input: exit 1 and the file named
"$BIN" pretrain-electra --train "$tmp/corpus.txt" --vocab /no/such/vocab.txt \
    --output-dir "$tmp/q" --max-steps 1 2> "$tmp/err"
check "missing vocab exit 1" test $? -eq 1
check "missing vocab named" grep -q "/no/such/vocab.txt" "$tmp/err"
"$BIN" pretrain-electra "${common[@]}" --train /no/such/text.txt \
    --output-dir "$tmp/q" 2> "$tmp/err"
check "missing train file exit 1" test $? -eq 1
check "missing train file named" grep -q "/no/such/text.txt" "$tmp/err"
printf 'sentence\tlabel\ngood film\t1\nbad line without a label\n' > "$tmp/bad.tsv"
"$BIN" train-classifier -m $DISC --train "$tmp/bad.tsv" \
    --output-dir "$tmp/q" 2> "$tmp/err"
check "bad TSV exit 1" test $? -eq 1
check "bad TSV named" grep -q "bad.tsv" "$tmp/err"
"$BIN" train-classifier -m /no/such/model --train $SST \
    --output-dir "$tmp/q" 2> "$tmp/err"
check "missing model exit 1" test $? -eq 1
check "missing model named" grep -q "/no/such/model" "$tmp/err"
"$BIN" pretrain-electra --vocab $DISC/vocab.txt --output-dir "$tmp/q" 2> /dev/null
check "no --train exit 2" test $? -eq 2

# help documents every option and its default
"$BIN" pretrain-electra --help > "$tmp/help"
for o in output-dir max-steps batch-size learning-rate warmup-steps \
         weight-decay seed resume train vocab dev size discriminator-config \
         generator-config max-seq-length mask-prob disc-weight eval-examples \
         position-embedding-type; do
    check "pretrain help --$o" grep -q -- "--$o" "$tmp/help"
done
check "pretrain help small defaults" grep -q "default 0.0005" "$tmp/help"
"$BIN" pretrain-electra --size tiny --help > "$tmp/help"
check "pretrain help tiny defaults" grep -q "default 0.0002" "$tmp/help"
"$BIN" train-classifier --help > "$tmp/help"
for o in model train dev task metric num-epochs max-seq-length \
         layerwise-lr-decay from-scratch output-dir max-steps learning-rate; do
    check "classifier help --$o" grep -q -- "--$o" "$tmp/help"
done
