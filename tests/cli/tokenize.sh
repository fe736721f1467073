#!/usr/bin/env bash
# tokenize.sh - checks of `t5e tokenize`, run from the repository root.
# Prints "ok NAME" or "FAIL NAME" per check; exits 1 if any failed.
# The binary is $T5E_BIN (default build/t5e).  Expected ids come from the
# reference fixtures (tests/data/tokenizers/*/cases.json).
set -u
BIN=${T5E_BIN:-build/t5e}
EL=tests/data/tokenizers/electra
T5=tests/data/tokenizers/t5
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME CONDITION-EXIT-STATUS
    if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "FAIL $1"; failed=1; fi
}

# run ARGS...: stdout to $tmp/out, stderr to $tmp/err, status in $rc
run() {
    "$BIN" tokenize "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# --- help documents every option and its default
run --help
grep -q -- '--json' "$tmp/out" && grep -q -- '--no-special' "$tmp/out" &&
    grep -q -- '--max-length' "$tmp/out" && grep -q -- '-m, --model' \
    "$tmp/out" && grep -q 'default' "$tmp/out"
check help_documents_options $(( $? || rc ))

# --- WordPiece, TEXT argument: a line of ids, a line of pieces
run -m "$EL" "Hello world"
printf '101 7592 2088 102\n[CLS] hello world [SEP]\n' | cmp -s - "$tmp/out"
check wordpiece_text $(( $? || rc ))

# --- WordPiece pair from stdin (a tab separates it), --json with type_ids
printf 'How old are you?\tI am six years old.\n' |
    "$BIN" tokenize -m "$EL" --json >"$tmp/out" 2>"$tmp/err"
rc=$?
want='{"ids": [101, 2129, 2214, 2024, 2017, 1029, 102, 1045, 2572, 2416, '
want+='2086, 2214, 1012, 102], "type_ids": [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, '
want+='1, 1, 1, 1], "pieces": ["[CLS]", "how", "old", "are", "you", "?", '
want+='"[SEP]", "i", "am", "six", "years", "old", ".", "[SEP]"]}'
echo "$want" | cmp -s - "$tmp/out"
check wordpiece_pair_json $(( $? || rc ))

# --- several stdin lines, one result each (2 lines per input), in order
printf 'Hello world\n\nunaffable\n' |
    "$BIN" tokenize -m "$EL" >"$tmp/out" 2>"$tmp/err"
rc=$?
printf '101 7592 2088 102\n[CLS] hello world [SEP]\n101 102\n[CLS] [SEP]\n%s\n%s\n' \
    '101 14477 20961 3468 102' '[CLS] una ##ffa ##ble [SEP]' |
    cmp -s - "$tmp/out"
check wordpiece_stdin_lines $(( $? || rc ))

# --- --no-special and --max-length
run -m "$EL" --no-special "Hello world"
printf '7592 2088\nhello world\n' | cmp -s - "$tmp/out"
check wordpiece_no_special $(( $? || rc ))
run -m "$EL" --max-length 3 "Hello world"
printf '101 7592 102\n[CLS] hello [SEP]\n' | cmp -s - "$tmp/out"
check wordpiece_max_length $(( $? || rc ))

# --- special tokens in the text stay whole; [mask] (lower case) does not
run -m "$EL" "a [MASK] b [mask]"
head -1 "$tmp/out" | grep -qx '101 1037 103 1038 1031 7308 1033 102'
check wordpiece_special_in_text $(( $? || rc ))

# --- a model folder (vocab.txt + tokenizer_config.json, small vocabulary)
run -m tests/data/electra-tiny-discriminator "Hello world"
head -1 "$tmp/out" | grep -qx '4 19 284 95 29 181 221 5'
check wordpiece_model_folder $(( $? || rc ))

# --- a vocab.txt named directly
run -m "$EL/small_vocab.txt" "Hello world"
head -1 "$tmp/out" | grep -qx '4 19 284 95 29 181 221 5'
check wordpiece_vocab_file $(( $? || rc ))

# --- SentencePiece (T5): spiece.model folder, and a T5 model folder
run -m "$T5" "Hello world"
printf '8774 296 1\n▁Hello ▁world </s>\n' | cmp -s - "$tmp/out"
check sentencepiece_text $(( $? || rc ))
run -m "$T5" --json "The quick brown fox jumps over the lazy dog."
grep -q '^{"ids": \[37, 1704, 4216, 3, 20400, 4418, 7, 147, 8, 19743, 1782, 5, 1\], "pieces": \[' \
    "$tmp/out" && ! grep -q type_ids "$tmp/out"
check sentencepiece_json $(( $? || rc ))
run -m tests/data/t5-tiny-v1.0 --no-special "Hello world"
head -1 "$tmp/out" | grep -qx '279 388 15 3 59 41 36 11'
check sentencepiece_model_folder $(( $? || rc ))

# --- errors: missing folder (exit 1, one line naming it), usage (exit 2)
run -m "$tmp/no-such-dir" "x"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q "$tmp/no-such-dir" "$tmp/err" && [ ! -s "$tmp/out" ]
check missing_dir_exit_1 $?
run -m "$EL" --bogus "x"
[ "$rc" -eq 2 ] && grep -q -- '--bogus' "$tmp/err"
check unknown_option_exit_2 $?
run "x"
[ "$rc" -eq 2 ]
check missing_model_exit_2 $?
run -m "$EL" --max-length -4 "x"
[ "$rc" -eq 2 ]
check bad_max_length_exit_2 $?
run -m "$EL" one two
[ "$rc" -eq 2 ]
check two_texts_exit_2 $?

# --- hostile input: invalid UTF-8, NUL, a 2 MB line; no crash
printf 'ab\xffcd\n\xc3\n\x00x\n' |
    "$BIN" tokenize -m "$EL" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 6 ] &&
    head -1 "$tmp/out" | grep -qx '101 5925 2094 102'
check invalid_utf8 $?
head -c 2097152 /dev/zero | tr '\0' 'a' | sed 's/aaaa/a b, /g' >"$tmp/big"
echo >>"$tmp/big"
"$BIN" tokenize -m "$EL" <"$tmp/big" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 2 ]
check two_mb_line $?

exit $failed
