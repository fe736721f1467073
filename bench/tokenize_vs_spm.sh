#!/usr/bin/env bash
# Throughput of our SentencePiece encoding against the reference program
# `spm_encode --output_format=id` (sentencepiece 0.1.97) on the same file,
# in one run.  Prints both figures and the ratio ours / spm_encode.
#
# Usage: bench/tokenize_vs_spm.sh [FILE] [MODEL]
#   FILE   default tests/data/corpus/moby_dick.txt
#   MODEL  default tests/data/tokenizers/t5/spiece.model
#
# spm_encode is timed as a whole program (median of 5 runs) minus its time
# on an empty input (model loading, median of 5), so both figures are
# encoding only.  spm_encode also formats and writes the ids (to
# /dev/null); our figure does not include formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-tests/data/corpus/moby_dick.txt}
model=${2:-tests/data/tokenizers/t5/spiece.model}
make -s MODE=release bench >/dev/null
command -v spm_encode >/dev/null || { echo "spm_encode not found"; exit 1; }

median_time() { # runs "$@" 5 times, prints the median wall time in seconds
    local t=()
    for _ in 1 2 3 4 5; do
        local s e
        s=$(date +%s.%N)
        "$@"
        e=$(date +%s.%N)
        t+=("$(echo "$e - $s" | bc -l)")
    done
    printf '%s\n' "${t[@]}" | sort -g | sed -n 3p
}
spm_file() {
    spm_encode --model="$model" --output_format=id <"$file" >/dev/null
}
spm_empty() {
    spm_encode --model="$model" --output_format=id </dev/null >/dev/null
}

spm_file # warm-up (page cache)
t_file=$(median_time spm_file)
t_load=$(median_time spm_empty)
bytes=$(stat -c %s "$file")
ours=$(./build/bench/bench_tokenize "$file" "$model")
echo "$ours"
ours_mb=$(echo "$ours" | sed -n 's/^sp_ids_mb_s //p')
api_mb=$(echo "$ours" | sed -n 's/^t5_api_mb_s //p')
spm_mb=$(echo "$bytes / ($t_file - $t_load) / 1000000" | bc -l)
spm_whole=$(echo "$bytes / $t_file / 1000000" | bc -l)
printf 'spm_encode_whole_s %.4f\nspm_encode_load_s %.4f\n' "$t_file" "$t_load"
printf 'spm_encode_mb_s %.2f (whole program: %.2f)\n' "$spm_mb" "$spm_whole"
printf 'ratio_sp_ids %.2f (ours %.2f MB/s / spm_encode %.2f MB/s)\n' \
    "$(echo "$ours_mb / $spm_mb" | bc -l)" "$ours_mb" "$spm_mb"
printf 'ratio_t5_api %.2f\n' "$(echo "$api_mb / $spm_mb" | bc -l)"
