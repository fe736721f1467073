#!/usr/bin/env bash
# CLI tests of `t5e generate`: prints "ok NAME" or "FAIL NAME" per check.
# Run from the repository root; T5E_BIN names the binary under test.
set -u
BIN=${T5E_BIN:-build/t5e}
M=tests/data/t5-tiny-v1.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "FAIL $name"; fi
}

# beam search through the CLI gives the reference's ids and scores
"$BIN" generate -m $M --max-new-tokens 24 --num-beams 4 \
    --num-return-sequences 2 --json "Hello <extra_id_0> world <extra_id_1>." \
    > "$tmp/beam.json" 2>"$tmp/err"
check "beam json ids" grep -q '"ids": \[55, 302, 441, 715, 589, 55, 570, 1025, 1\]' "$tmp/beam.json"
check "beam json score" grep -q '"score": -2.8575' "$tmp/beam.json"
check "beam json two outputs" test "$(grep -o '"ids"' "$tmp/beam.json" | wc -l)" -eq 2

# greedy: plain text, one line per input, in input order
printf 'translate English to German: The house is wonderful.\nsummarize: the software is provided as is, without warranty of any kind, express or implied.\n' \
    | "$BIN" generate -m $M --max-new-tokens 24 --batch-size 2 > "$tmp/plain" 2>"$tmp/err"
check "plain two lines" test "$(wc -l < "$tmp/plain")" -eq 2
"$BIN" generate -m $M --max-new-tokens 24 --json \
    "translate English to German: The house is wonderful." > "$tmp/one.json"
check "greedy score is null" grep -q '"score": null' "$tmp/one.json"

# --ids: the same input as ids gives the same output
printf '3 507 36 162 241 30 23 189 186 17 228 26 306 37 68 3 317 132 13 22 3 59 56 11 26 25 221 6 1\n' \
    | "$BIN" generate -m $M --max-new-tokens 24 --json --ids > "$tmp/ids.json"
check "ids equal text" cmp -s "$tmp/one.json" "$tmp/ids.json"

# --help documents every option
"$BIN" generate --help > "$tmp/help"
for o in max-new-tokens min-new-tokens num-beams num-return-sequences \
         length-penalty early-stopping do-sample temperature top-k top-p \
         seed batch-size threads ids json; do
    check "help --$o" grep -q -- "--$o" "$tmp/help"
done

# bad input: clear one-line errors and the right exit codes
expect_fail() { # name, exit code, message part, command...
    local name=$1 code=$2 part=$3
    shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    if [ $rc -eq "$code" ] && grep -q -- "$part" "$tmp/err" \
        && [ "$(wc -l < "$tmp/err")" -le 2 ]; then
        echo "ok $name"
    else
        echo "FAIL $name (exit $rc: $(head -c 200 "$tmp/err"))"
    fi
}
expect_fail "missing folder" 1 "/no/such/model" "$BIN" generate -m /no/such/model hi
# without -m, the shipped model runs
"$BIN" generate "translate English to German: How are you?" > "$tmp/default" 2>&1
check "default model runs" test $? -eq 0
check "default model answers in German" grep -q "Wie" "$tmp/default"
T5E_MODELS=/nonexistent "$BIN" generate --max-new-tokens 2 hi > /dev/null 2>&1
check "default model found beside the binary" test $? -eq 0
expect_fail "bad option" 2 "see" "$BIN" generate -m $M --frobnicate hi
expect_fail "bad number" 2 "num-beams" "$BIN" generate -m $M --num-beams x hi
expect_fail "bad id" 1 "outside the vocabulary" sh -c "echo '5 99999 1' | $BIN generate -m $M --ids"
expect_fail "too long" 1 "longer than" sh -c "seq 1 20000 | tr '\n' ' ' | sed 's/\$/\n/' | $BIN generate -m $M --ids"
expect_fail "returns > beams" 1 "num_return_sequences" "$BIN" generate -m $M --num-return-sequences 3 hi

# convert: half the bytes, loads and generates through the usual path
"$BIN" convert -m $M --dtype f16 --output-dir "$tmp/f16" 2> "$tmp/err"
check "convert exit 0" test $? -eq 0
full=$(stat -c %s $M/model.safetensors)
half=$(stat -c %s "$tmp/f16/model.safetensors")
check "f16 is about half" test $((half * 2)) -lt $((full + 16384))
check "f16 copies the tokenizer" cmp -s $M/spiece.model "$tmp/f16/spiece.model"
check "f16 generates" "$BIN" generate -m "$tmp/f16" --max-new-tokens 4 hello
"$BIN" convert -m "$tmp/f16" --dtype f32 --output-dir "$tmp/f32" 2> "$tmp/err"
check "back to f32 generates" "$BIN" generate -m "$tmp/f32" --max-new-tokens 4 hello
expect_fail "convert bad dtype" 2 "unknown dtype" "$BIN" convert -m $M --dtype q3 --output-dir "$tmp/x"
expect_fail "convert missing folder" 1 "/no/such" "$BIN" convert -m /no/such --dtype f16 --output-dir "$tmp/x"

# quantize: int8 linear weights, a quarter of their bytes; runs in int8 as
# stored, and gives what quantizing at load (--dtype int8) gives
"$BIN" quantize -m $M --output-dir "$tmp/q8" 2> "$tmp/err"
check "quantize exit 0" test $? -eq 0
q8=$(stat -c %s "$tmp/q8/model.safetensors")
check "int8 is under a third" test $((q8 * 3)) -lt "$full"
check "quantize copies the tokenizer" cmp -s $M/spiece.model "$tmp/q8/spiece.model"
"$BIN" generate -m "$tmp/q8" --max-new-tokens 8 --json hello > "$tmp/q8.json"
"$BIN" generate -m $M --dtype int8 --max-new-tokens 8 --json hello > "$tmp/i8.json"
check "quantized file = int8 at load" cmp -s "$tmp/q8.json" "$tmp/i8.json"
"$BIN" generate -m "$tmp/q8" --dtype f32 --max-new-tokens 8 hello > /dev/null 2>&1
check "int8 file loads as f32" test $? -eq 0
"$BIN" generate -m $M --dtype f32 --max-new-tokens 8 --json hello > "$tmp/a.json"
"$BIN" generate -m $M --max-new-tokens 8 --json hello > "$tmp/b.json"
check "auto on f32 = f32" cmp -s "$tmp/a.json" "$tmp/b.json"
check "help --dtype" grep -q -- "--dtype" "$tmp/help"
expect_fail "bad --dtype" 2 "unknown dtype" "$BIN" generate -m $M --dtype q3 hi
expect_fail "quantize missing folder" 1 "/no/such" "$BIN" quantize -m /no/such --output-dir "$tmp/x"
expect_fail "quantize no output" 2 "required" "$BIN" quantize -m $M
