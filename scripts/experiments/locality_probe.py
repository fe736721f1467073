#!/usr/bin/env python3
"""Does a discriminator use its neighbours?  For held-out sequences of
about 128 pieces, replace one token in the middle with a frequent word
and measure how much each detection logit moves, by distance from the
changed position.  A context-blind model moves only the changed
token's own logit; one that reads its neighbours moves theirs too.

usage: locality_probe.py T5E_BINARY MODEL_DIR VOCAB DEV_TEXT [N [LENGTH]]
N windows (200) of LENGTH pieces (126; [CLS] and [SEP] are added), the
change in the middle third.  Prints the mean |change of logit| at
distances 0, 1, 2, 3, 5, 10, 30 (those under LENGTH / 3).
"""
import json
import random
import subprocess
import sys

DIST = (0, 1, 2, 3, 5, 10, 30)
FREQUENT = ("the", "of", "and", "to", "a", "in", "was", "he", "that", "it")


def run(binary, args, stdin):
    out = subprocess.run([binary] + args, input=stdin, capture_output=True,
                         text=True, check=True)
    return out.stdout


def sequences(binary, vocab, dev, n, length=126):
    """n windows of `length` ids from the held-out text, and the ids of
    the frequent words."""
    text = open(dev, encoding="utf-8").read().split("\n")
    lines = run(binary, ["tokenize", "-m", vocab, "--no-special"],
                "\n".join(text + [" ".join(FREQUENT)]) + "\n").split("\n")
    ids = []
    for i in range(0, len(lines) - 3, 2):
        ids += [int(t) for t in lines[i].split()]
    frequent = [int(t) for t in lines[-3].split()]
    rng = random.Random(2026)
    starts = [rng.randrange(0, len(ids) - length) for _ in range(n)]
    return [ids[s:s + length] for s in starts], frequent


def logits(binary, model, seqs):
    stdin = "".join("101 " + " ".join(map(str, s)) + " 102\n" for s in seqs)
    out = run(binary, ["detect", "-m", model, "--ids", "--json"], stdin)
    return [json.loads(line)["logits"] for line in out.splitlines()]


def main():
    binary, model, vocab, dev = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 200
    length = int(sys.argv[6]) if len(sys.argv) > 6 else 126
    dist = [d for d in DIST if d < length // 3]
    seqs, frequent = sequences(binary, vocab, dev, n, length)
    rng = random.Random(7)
    changed, where = [], []
    for s in seqs:
        p = rng.randrange(length // 3, length - length // 3)
        c = list(s)
        c[p] = rng.choice([f for f in frequent if f != s[p]])
        changed.append(c)
        where.append(p + 1)  # [CLS] comes first
    before, after = logits(binary, model, seqs), logits(binary, model, changed)
    sums = {d: 0.0 for d in dist}
    for b, a, p in zip(before, after, where):
        for d in dist:
            both = [p - d, p + d] if d else [p]
            sums[d] += sum(abs(a[i] - b[i]) for i in both) / len(both)
    print(" ".join("d%d %.4f" % (d, sums[d] / len(seqs)) for d in dist))


if __name__ == "__main__":
    main()
