#!/usr/bin/env bash
# How fast does a randomly initialised tiny T5 learn a task that needs
# word order, per optimizer?  Inputs "reverse: w1 ... wn" (4-7 common
# words), targets the words reversed; 4000 training and 200 dev pairs
# made with a fixed seed; `finetune-t5 --config tiny` with the shipped
# t5-tiny-ende SentencePiece model, 600 steps of 32, one thread per run,
# exact match and BLEU of greedy generations on the dev pairs.
# Usage: scripts/experiments/t5_order_probe.sh OUT_DIR [T5E_BINARY]
set -euo pipefail
out=${1:?usage: t5_order_probe.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
mkdir -p "$out"
python3 - "$out" <<'PY'
import random, sys
random.seed(11)
words = ("cat dog red blue tree house car road sun moon book pen cup water "
         "fire stone bird fish king queen door wall hand foot eye ear nose "
         "mouth lake hill").split()
for name, n in (("train", 4000), ("dev", 200)):
    with open(f"{sys.argv[1]}/{name}.tsv", "w") as f:
        for _ in range(n):
            s = [random.choice(words) for _ in range(random.randint(4, 7))]
            f.write("reverse: " + " ".join(s) + "\t" +
                    " ".join(reversed(s)) + "\n")
PY
run() { # name, then options
    local name=$1
    shift
    "$bin" finetune-t5 --config tiny --vocab models/t5-tiny-ende/spiece.model \
        --train "$out/train.tsv" --dev "$out/dev.tsv" \
        --output-dir "$out/$name" --max-steps 600 --batch-size 32 \
        --eval-steps 150 --save-steps 600 --metric exact_match \
        --max-input-length 32 --max-target-length 32 --seed 1 \
        --threads 1 "$@" 2>&1 | grep ' eval:' > "$out/$name.log"
    echo "$name: $(tail -1 "$out/$name.log")"
}
run adafactor-1e-3 --optimizer adafactor --learning-rate 1e-3
run adafactor-3e-3 --optimizer adafactor --learning-rate 3e-3
run adafactor-1e-2 --optimizer adafactor --learning-rate 1e-2
run adamw-3e-4 --optimizer adamw --learning-rate 3e-4 --warmup-steps 60
