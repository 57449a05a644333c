#!/usr/bin/env bash
# Fuzzes sagad's input handling with libFuzzer (clang, ASan and UBSan): definition_fuzzer
# (definitions as text, JSON, binary and descriptor sets) and request_fuzzer (every RPC's
# request up to the database). Each starts from the seed corpus in the repository and runs
# SAGAD_FUZZ_SECONDS (default 30) per target.
#   tests/fuzz/run.sh                                         the short run of scripts/test
#   SAGAD_FUZZ_SECONDS=3600 SAGAD_FUZZ_CORPUS=~/fuzz tests/fuzz/run.sh   the long run; the
#                                                              corpus it grows is kept there
# A failing input is saved in build/fuzz/artifacts/ and printed; replay it with
#   build/fuzz/tests/fuzz/<target> build/fuzz/artifacts/<file>
source "$(dirname "$0")/../../scripts/lib/common.sh"

seconds=${SAGAD_FUZZ_SECONDS:-30}
build=$("$SAGAD_ROOT/scripts/build" Fuzz)
ninja -C "$build" -j2 definition_fuzzer request_fuzzer >&2
corpus=${SAGAD_FUZZ_CORPUS:-$(mktemp -d)}
artifacts="$build/artifacts"
mkdir -p "$corpus/definition" "$corpus/request" "$artifacts"
[[ -n ${SAGAD_FUZZ_CORPUS:-} ]] || trap 'rm -rf "$corpus"' EXIT

# Seeds: the definitions as they are, plus the compiled descriptors of the shop example (its
# saga options); each request seed encoded, behind the byte that picks its RPC.
cp "$SAGAD_ROOT"/tests/fuzz/corpus/definition/* "$corpus/definition/"
protoc -I "$SAGAD_ROOT/proto" -I "$SAGAD_ROOT/examples/shop" --include_imports \
  --descriptor_set_out="$corpus/definition/shop.descriptor_set" "$SAGAD_ROOT/examples/shop/shop.proto"
for seed in "$SAGAD_ROOT"/tests/fuzz/seeds/requests/*.textproto; do
  name=$(basename "$seed" .textproto)
  index=$((10#${name%%_*}))
  {
    printf "\\x$(printf %02x "$index")"
    protoc -I "$SAGAD_ROOT/proto" --encode="saga.v1.${name#*_}" "$SAGAD_ROOT"/proto/saga/v1/*.proto <"$seed"
  } >"$corpus/request/$name.bin"
done
# JSON seeds (the HTTP API) behind the byte of their RPC with the high bit set.
for seed in "$SAGAD_ROOT"/tests/fuzz/seeds/json/*.json; do
  name=$(basename "$seed" .json)
  index=$((10#${name%%_*} | 128))
  { printf "\\x$(printf %02x "$index")"; cat "$seed"; } >"$corpus/request/json-$name.bin"
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
for target in definition_fuzzer request_fuzzer; do
  dir="$corpus/${target%_fuzzer}"
  say "fuzzing $target for ${seconds}s from $(ls "$dir" | wc -l) inputs"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$dir" 2>"$build/$target.log"; then
    tail -40 "$build/$target.log" >&2
    die "$target found a failing input: $(ls -t "$artifacts"/$target-* | head -1)"
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)|^Done" "$build/$target.log" || true
done
echo "fuzz: passed"
