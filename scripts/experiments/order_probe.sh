#!/usr/bin/env bash
# Can a randomly initialised tiny ELECTRA learn a task that needs word
# order?  Sentences of 10-20 common words hold "alpha" and "omega" once
# each, in random places; the label is 1 when alpha comes first.  A bag of
# words cannot beat 0.5 (both words are always there): only attention that
# tells positions apart can.  4000 training and 500 dev sentences, made
# with a fixed seed; train-classifier from random init, 8 epochs (1000
# steps of 32), one run per optimizer setting, one thread each.
# Usage: scripts/experiments/order_probe.sh OUT_DIR [T5E_BINARY]
set -euo pipefail
out=${1:?usage: order_probe.sh OUT_DIR [T5E_BINARY]}
bin=${2:-build/t5e}
mkdir -p "$out"
python3 - "$out" <<'PY'
import random, sys
random.seed(7)
words = ("cat dog red blue tree house car road sun moon book pen cup water "
         "fire stone bird fish king queen door wall hand foot eye ear nose "
         "mouth lake hill").split()
def example():
    s = [random.choice(words) for _ in range(random.randint(10, 20))]
    i, j = sorted(random.sample(range(len(s) + 2), 2))
    s.insert(i, "x"); s.insert(j, "x")
    first = "alpha" if random.random() < 0.5 else "omega"
    at = [k for k, w in enumerate(s) if w == "x"]
    s[at[0]] = first
    s[at[1]] = "omega" if first == "alpha" else "alpha"
    return " ".join(s), int(first == "alpha")
for name, n in (("train", 4000), ("dev", 500)):
    with open(f"{sys.argv[1]}/{name}.tsv", "w") as f:
        f.write("sentence\tlabel\n")
        for _ in range(n):
            text, label = example()
            f.write(f"{text}\t{label}\n")
PY
run() { # name, then options
    local name=$1
    shift
    "$bin" train-classifier -m models/electra-tiny-discriminator \
        --from-scratch --train "$out/train.tsv" --dev "$out/dev.tsv" \
        --output-dir "$out/$name" --num-epochs 8 --layerwise-lr-decay 1.0 \
        --max-seq-length 32 --seed 1 --threads 1 "$@" 2>&1 |
        grep ' eval:' > "$out/$name.log"
    echo "$name: best dev accuracy $(awk '{print $5}' "$out/$name.log" |
        sort -g | tail -1)"
}
run electra-adam-1e-4 --optimizer adamw-electra --learning-rate 1e-4
run electra-adam-3e-4 --optimizer adamw-electra --learning-rate 3e-4
run adamw-3e-4 --optimizer adamw --learning-rate 3e-4
run adamw-1e-3 --optimizer adamw --learning-rate 1e-3
