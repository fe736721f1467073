#!/usr/bin/env python3
"""Replaced-token detection on held-out text with replacements a
context-blind model cannot tell apart: 15% of the positions of each
held-out window get a token drawn from the held-out text's own unigram
distribution (never the original one), so a replaced token has the same
marginal distribution as an original one and only its context gives it
away.  A discriminator that judges tokens by their identity alone scores
AUC 0.5 here, whatever its AUC on generator samples.

usage: unigram_detect.py T5E_BINARY MODEL_DIR VOCAB DEV_TEXT [N [LENGTH]]
N windows (400) of LENGTH pieces (126; [CLS] and [SEP] are added).
Prints AUC, and precision / recall / F1 on the replaced tokens at
probability 0.5 and at the threshold with the best F1.
"""
import random
import sys

from locality_probe import logits, sequences


def auc(pos, neg):
    """Mann-Whitney: the chance a replaced token outscores an original."""
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2.0  # ties share their mean rank (1-based)
        rank_sum += mid * sum(lab for _, lab in ranked[i:j])
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def prf(pos, neg, threshold):
    tp = sum(s > threshold for s in pos)
    fp = sum(s > threshold for s in neg)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / len(pos)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main():
    binary, model, vocab, dev = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 400
    length = int(sys.argv[6]) if len(sys.argv) > 6 else 126
    seqs, _ = sequences(binary, vocab, dev, n, length)
    pool = [t for s in seqs for t in s]  # the held-out unigram distribution
    rng = random.Random(11)
    changed, labels = [], []
    for s in seqs:
        c, lab = list(s), [0] * len(s)
        for p in rng.sample(range(len(s)), round(0.15 * len(s))):
            t = rng.choice(pool)
            while t == s[p]:
                t = rng.choice(pool)
            c[p], lab[p] = t, 1
        changed.append(c)
        labels.append(lab)
    pos, neg = [], []
    for lg, lab in zip(logits(binary, model, changed), labels):
        for x, y in zip(lg[1:-1], lab):  # drop [CLS] and [SEP]
            (pos if y else neg).append(x)
    a = auc(pos, neg)
    p, r, f = prf(pos, neg, 0.0)
    best = max((prf(pos, neg, t) + (t,) for t in sorted(pos)[::max(1, len(pos) // 200)]),
               key=lambda v: v[2])
    print("auc %.4f  at p=0.5: precision %.3f recall %.3f f1 %.3f  best f1 "
          "%.3f (precision %.3f recall %.3f)" % (a, p, r, f, best[2],
                                                   best[0], best[1]))


if __name__ == "__main__":
    main()
