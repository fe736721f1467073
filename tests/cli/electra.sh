#!/usr/bin/env bash
# electra.sh - checks of the ELECTRA commands (detect, fill-mask, classify,
# embed) of the t5e binary against the tiny fixtures.
#
# Run from the repository root: T5E_BIN=build/t5e bash tests/cli/electra.sh
# Prints "ok NAME" or "FAIL NAME" per check; exits 1 if any check failed.

BIN=${T5E_BIN:-build/t5e}
DATA=${T5E_TESTDATA:-tests/data}
DISC=$DATA/electra-tiny-discriminator
GEN=$DATA/electra-tiny-generator
CLS=$DATA/electra-tiny-classifier
TMP=$(mktemp -d /tmp/t5e_electra_cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failed=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; failed=1; }

# check NAME CONDITION...: runs the condition, reports.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# expect_error NAME PATTERN CMD...: exit status 1, one stderr line
# matching PATTERN, nothing on stdout.
expect_error() {
    local name=$1 pattern=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    local rc=$?
    if [ $rc -ne 1 ]; then
        fail "$name" "exit $rc, want 1"
    elif [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
        fail "$name" "stderr is not one line: $(cat "$TMP/err")"
    elif ! grep -q -- "$pattern" "$TMP/err"; then
        fail "$name" "stderr lacks '$pattern': $(cat "$TMP/err")"
    elif [ -s "$TMP/out" ]; then
        fail "$name" "stdout not empty"
    else
        ok "$name"
    fi
}

# close A B: the two space-separated lists of numbers agree within
# 1e-4 * (|b| + max|b|), the fixtures' rule.
close() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); m = split(b, y, " ");
        if (n != m || n == 0) exit 1;
        mx = 0; for (i = 1; i <= m; i++) { v = y[i] < 0 ? -y[i] : y[i];
                                          if (v > mx) mx = v }
        for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d;
            v = y[i] < 0 ? -y[i] : y[i];
            if (d > 1e-4 * (v + mx)) exit 1 }
        exit 0 }'
}

# json_array KEY: the numbers of "KEY": [...] on stdin's first line.
json_array() {
    head -n 1 | sed -n "s/.*\"$1\": \[\([^]]*\)\].*/\1/p" | tr -d ','
}

# The fixtures' "Hello world!" item and pair item, as ids.
HELLO_IDS="4 19 284 95 29 181 221 78 5"
PAIR_IDS="4 836 10 221 445 449 80 5 9 12 105 11 413 27 92 265 96 10 221 26 5"
# golden logits (discriminator row 2, classifier rows 2 and 3)
HELLO_LOGITS="0.770636 1.281037 0.793049 0.227336 0.629369 0.995938 \
0.836788 0.695381 1.022173"
CLS_HELLO="-0.2278953194618225 -0.7462440729141235 -1.7801198959350586"
CLS_PAIR="0.403923362493515 -0.5862866640090942 -1.6477322578430176"

# --- detect ------------------------------------------------------------
out=$("$BIN" detect -m "$DISC" --json --ids "$HELLO_IDS")
check detect_ids_golden close "$(json_array logits <<<"$out")" \
    "$HELLO_LOGITS"
out=$("$BIN" detect -m "$DISC" --json "Hello world!")
check detect_text_golden close "$(json_array logits <<<"$out")" \
    "$HELLO_LOGITS"
check detect_text_ids [ "$(json_array ids <<<"$out")" = "$HELLO_IDS" ]
check detect_json_tokens grep -q '"tokens": \["\[CLS\]",' <<<"$out"
probs=$(json_array probs <<<"$out")
check detect_probs_sigmoid awk -v p="$probs" -v l="$HELLO_LOGITS" 'BEGIN {
    n = split(p, x, " "); split(l, y, " ");
    for (i = 1; i <= n; i++) { s = 1 / (1 + exp(-y[i]));
        if (x[i] - s > 1e-4 || s - x[i] > 1e-4) exit 1 }
    exit n == 9 ? 0 : 1 }'
out=$("$BIN" detect -m "$DISC" "Hello world!")
check detect_plain [ "$(head -n 1 <<<"$out")" = "[CLS]	0.6837" ]
check detect_plain_lines [ "$(grep -c . <<<"$out")" -eq 9 ]

# Batching: stdin in batches of 1 and of 32 give the same output, and a
# padded row equals the row alone.
printf 'Hello world!\nHow old are you?\tI am six years old.\nok\n' \
    >"$TMP/in"
"$BIN" detect -m "$DISC" --json --batch-size 1 <"$TMP/in" >"$TMP/b1"
"$BIN" detect -m "$DISC" --json <"$TMP/in" >"$TMP/b32"
check detect_stdin_count [ "$(wc -l <"$TMP/b32")" -eq 3 ]
check detect_batch_equal close "$(json_array logits <"$TMP/b32")" \
    "$(json_array logits <"$TMP/b1")"
check detect_padded_row_golden close "$(json_array logits <"$TMP/b32")" \
    "$HELLO_LOGITS"
pair=$(sed -n 2p "$TMP/b32")
check detect_pair_ids [ "$(json_array ids <<<"$pair")" = "$PAIR_IDS" ]

# --- classify ----------------------------------------------------------
out=$("$BIN" classify -m "$CLS" --json "Hello world!")
check classify_golden close "$(json_array logits <<<"$out")" "$CLS_HELLO"
check classify_label grep -q '"label": "LABEL_0"' <<<"$out"
out=$(printf 'How old are you?\tI am six years old.\n' |
      "$BIN" classify -m "$CLS" --json)
check classify_pair_golden close "$(json_array logits <<<"$out")" \
    "$CLS_PAIR"
out=$("$BIN" classify -m "$CLS" --ids "$PAIR_IDS")
check classify_plain grep -q '^LABEL_0	0\.66' <<<"$out"

# --- fill-mask ---------------------------------------------------------
out=$("$BIN" fill-mask -m "$GEN" --json --top-k 3 "Hello [MASK] world!")
check fill_mask_json grep -q \
    '^{"masks": \[{"position": 4, "candidates": \[{"id": ' <<<"$out"
check fill_mask_top_k [ "$(grep -o '"prob"' <<<"$out" | wc -l)" -eq 3 ]
probs=$(grep -o '"prob": [0-9.e-]*' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ')
check fill_mask_sorted awk -v p="$probs" 'BEGIN { n = split(p, x, " ");
    for (i = 2; i <= n; i++) if (x[i] > x[i - 1]) exit 1; exit 0 }'
# The fixture's masked "Hello world!" row: top 3 from the golden logits
# are ids 839, 678, 869 with probabilities 0.174206, 0.126523, 0.108341.
out=$("$BIN" fill-mask -m "$GEN" --json --top-k 3 \
      --ids "4 19 284 95 6 181 221 78 5")
check fill_mask_golden_ids [ "$(grep -o '"id": [0-9]*' <<<"$out" |
    cut -d' ' -f2 | tr '\n' ' ')" = "839 678 869 " ]
probs=$(grep -o '"prob": [0-9.e-]*' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ')
check fill_mask_golden_probs close "$probs" "0.174206 0.126523 0.108341"
out=$("$BIN" fill-mask -m "$GEN" "[MASK] old are [MASK]?")
check fill_mask_plain [ "$(grep -c '^position [0-9]*:' <<<"$out")" -eq 2 ]
out=$("$BIN" fill-mask -m "$GEN" --ids "4 19 6 5")
check fill_mask_ids_plain grep -q '^position 2:' <<<"$out"

# --- embed -------------------------------------------------------------
out=$("$BIN" embed -m "$DISC" --json --pool cls "Hello world!")
n=$(json_array embedding <<<"$out" | wc -w)
check embed_cls_size [ "$n" -eq 64 ]
out=$("$BIN" embed -m "$GEN" --json --pool none "Hello world!")
check embed_none_tokens grep -q '"hidden_states": \[\[' <<<"$out"
mean1=$("$BIN" embed -m "$DISC" "Hello world!")
mean2=$(printf 'Hello world!\nHow old are you?\tI am six years old.\n' |
        "$BIN" embed -m "$DISC" | head -n 1)
check embed_mean_ignores_padding close "$mean2" "$mean1"
"$BIN" embed -m "$CLS" --pool cls "x" >/dev/null
check embed_any_head [ $? -eq 0 ]

# --- help and usage ----------------------------------------------------
for c in detect fill-mask classify embed; do
    out=$("$BIN" $c --help)
    check "help_$c" grep -q -- '--batch-size N' <<<"$out"
done
check help_top_k grep -q -- '--top-k N' <<<"$("$BIN" fill-mask --help)"
check help_pool grep -q -- '--pool P' <<<"$("$BIN" embed --help)"
T5E_MODELS=/nonexistent "$BIN" fill-mask "x" >/dev/null 2>&1
check usage_needs_model [ $? -eq 2 ]
"$BIN" embed -m "$DISC" --pool max x >/dev/null 2>&1
check usage_bad_pool [ $? -eq 2 ]

# --- errors --------------------------------------------------------------
expect_error err_wrong_head_detect "is a generator" \
    "$BIN" detect -m "$GEN" "Hello"
expect_error err_wrong_head_fill "needs a generator" \
    "$BIN" fill-mask -m "$DISC" "Hello [MASK]"
expect_error err_wrong_head_classify "needs a classifier" \
    "$BIN" classify -m "$DISC" "Hello"
expect_error err_no_mask "has no \[MASK\]" \
    "$BIN" fill-mask -m "$GEN" "Hello world"
expect_error err_missing_folder "no such model folder" \
    "$BIN" detect -m "$TMP/nowhere" "Hello"
long=$(printf 'hello %.0s' $(seq 200))
expect_error err_too_long "limit of 128 (max_position_embeddings)" \
    "$BIN" detect -m "$DISC" "$long"
expect_error err_bad_id "out of range" \
    "$BIN" detect -m "$DISC" --ids "4 99999 5"

# A config with one layer more than the file holds: a missing tensor.
mkdir "$TMP/missing"
cp "$DISC"/* "$TMP/missing/"
sed -i 's/"num_hidden_layers": 3/"num_hidden_layers": 4/' \
    "$TMP/missing/config.json"
expect_error err_missing_tensor \
    "tensor electra.encoder.layer.3.attention.self.query.weight is missing" \
    "$BIN" detect -m "$TMP/missing" "Hello"

# --ids must be numbers
expect_error err_ids_not_numbers "not a list of token ids" \
    "$BIN" detect -m "$DISC" --ids "4 hello 5"

# --dtype: int8 (quantized at load or by `t5e quantize`) gives the same
# decisions on a plain sentence; an unknown dtype is a usage error
"$BIN" detect -m "$DISC" --json "Hello world!" >"$TMP/d32"
"$BIN" detect -m "$DISC" --dtype int8 --json "Hello world!" >"$TMP/d8"
"$BIN" quantize -m "$DISC" --output-dir "$TMP/q8" 2>/dev/null
"$BIN" detect -m "$TMP/q8" --json "Hello world!" >"$TMP/q8out"
check dtype_int8_runs test -s "$TMP/d8"
check dtype_int8_file_same cmp -s "$TMP/d8" "$TMP/q8out"
check dtype_int8_same_tokens test "$(grep -o '"tokens": \[[^]]*\]' "$TMP/d8")" = \
    "$(grep -o '"tokens": \[[^]]*\]' "$TMP/d32")"
"$BIN" detect -m "$DISC" --dtype q3 "Hello" >/dev/null 2>"$TMP/err"
check err_bad_dtype_usage test $? -eq 2
check err_bad_dtype_message grep -q -- "--dtype needs" "$TMP/err"

# without -m, detect, embed and classify run the shipped tiny models
for cmd in detect embed classify; do
    "$BIN" $cmd "the movie was wonderful ." >"$TMP/def" 2>"$TMP/err"
    check default_model_$cmd test $? -eq 0 -a -s "$TMP/def"
done
"$BIN" fill-mask "a [MASK] day" >/dev/null 2>"$TMP/err"
check fill_mask_needs_m test $? -eq 2

exit $failed
