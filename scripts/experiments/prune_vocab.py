#!/usr/bin/env python3
"""A WordPiece vocabulary fitted to a corpus by pruning BERT's.

Reads the pieces `t5e tokenize --no-special` printed for the corpus
(counted with `uniq -c`) and keeps the special tokens, every single
character the corpus uses (as a word start and as a "##" continuation,
so no word of the corpus becomes [UNK]), then the most frequent pieces
until SIZE entries.  Greedy longest-match WordPiece on the smaller
vocabulary splits the dropped words into the pieces that remain.

usage: prune_vocab.py BERT_VOCAB COUNTS SIZE OUT_VOCAB
"""
import sys

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def main():
    bert_path, counts_path, size, out_path = sys.argv[1:5]
    size = int(size)
    bert = [l.rstrip("\n") for l in open(bert_path, encoding="utf-8")]
    in_bert = set(bert)
    counts = []
    for line in open(counts_path, encoding="utf-8"):
        n, _, piece = line.strip().partition(" ")
        if piece in in_bert and piece not in SPECIALS:
            counts.append((int(n), piece))
    counts.sort(key=lambda c: -c[0])
    chars = set()
    for _, piece in counts:
        chars.update(piece[2:] if piece.startswith("##") else piece)
    keep = list(SPECIALS)
    seen = set(keep)
    for c in sorted(chars):
        for piece in (c, "##" + c):
            if piece in in_bert and piece not in seen:
                keep.append(piece)
                seen.add(piece)
    for _, piece in counts:
        if len(keep) >= size:
            break
        if piece not in seen:
            keep.append(piece)
            seen.add(piece)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(keep) + "\n")
    print(f"{out_path}: {len(keep)} pieces ({len(chars)} characters)")


if __name__ == "__main__":
    main()
