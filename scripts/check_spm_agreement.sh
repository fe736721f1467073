#!/usr/bin/env bash
# Compares our SentencePiece ids with the reference program
# `spm_encode --output_format=id` (Debian sentencepiece 0.1.97) line by
# line and prints the number of differing lines per model.  Exits non-zero
# when any line differs.
#
# Usage: scripts/check_spm_agreement.sh [CORPUS [MODEL ...]]
#   CORPUS  default tests/data/corpus/moby_dick.txt (then 5000 lines of
#           random bytes are checked too)
#   MODEL   default the two models of tests/data/tokenizers/t5
set -euo pipefail
cd "$(dirname "$0")/.."
command -v spm_encode >/dev/null || {
    echo "spm_encode not found: run scripts/deps.sh (package sentencepiece)"
    exit 1
}
make -s MODE=release build/tests/test_spm_corpus >/dev/null
exec ./build/tests/test_spm_corpus "$@"
