#!/bin/sh
# run_tests.sh MODE BIN... — runs the C test binaries (cmocka, TAP output) and,
# for MODE=all, the Lua suite and the bad-input table (tests/bad_inputs/);
# prints per-suite results and ends with exactly one
# line "N passed, N failed". Exit status 1 when anything failed.
# A binary that crashes counts every planned-but-unreported test as failed (and
# at least one failure).
mode=$1; shift
pass=0; fail=0; skip=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

count_tap() { # name file rc
  name=$1; out=$2; rc=$3
  # cmocka reports a skipped test as "not ok N # SKIP": neither pass nor fail.
  skipped=$(grep -cE '^(not )?ok .*# *SKIP' "$out")
  ok=$(grep '^ok ' "$out" | grep -vcE '# *SKIP')
  bad=$(grep '^not ok ' "$out" | grep -vcE '# *SKIP')
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
  missing=0
  if [ -n "$plan" ] && [ $((ok + bad + skipped)) -lt "$plan" ]; then missing=$((plan - ok - bad - skipped)); fi
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && [ "$missing" -eq 0 ]; then missing=1; fi
  pass=$((pass + ok)); fail=$((fail + bad + missing)); skip=$((skip + skipped))
  status=ok; [ $((bad + missing)) -gt 0 ] && status=FAILED
  printf '%-28s %4d passed %4d failed %s%s\n' "$name" "$ok" $((bad + missing)) "$status" \
    "$([ "$skipped" -gt 0 ] && echo " ($skipped skipped)")"
  if [ "$status" = FAILED ] || [ -n "$VERBOSE" ]; then
    grep -vE '^ok |# *SKIP' "$out" | sed 's/^/    /' | head -n 60
    [ "$missing" -gt 0 ] && echo "    (exit status $rc; $missing test(s) did not report)"
  fi
  grep '# *SKIP' "$out" | sed 's/^/    /'
}

for bin in "$@"; do
  name=$(basename "$bin")
  CMOCKA_MESSAGE_OUTPUT=TAP "$bin" >"$tmp/out" 2>&1; rc=$?
  count_tap "$name" "$tmp/out" "$rc"
done

# the Lua suite runs on the binary of the build under test (make passes
# COCONUT_BIN=$(BUILD)/coconut); its end-to-end tests read the same variable
COCONUT_BIN=${COCONUT_BIN:-build/coconut}
export COCONUT_BIN
if [ "$mode" = all ] && [ -x "$COCONUT_BIN" ] && [ -f tests/lua/all.lua ]; then
  "$COCONUT_BIN" run tests/lua/all.lua >"$tmp/out" 2>&1; rc=$?
  count_tap "lua" "$tmp/out" "$rc"
fi
# the bad-input table (tests/bad_inputs/cases.lua): one TAP test per case
if [ "$mode" = all ] && [ -x "$COCONUT_BIN" ] && [ -f tests/bad_inputs/run.lua ]; then
  "$COCONUT_BIN" run tests/bad_inputs/run.lua >"$tmp/out" 2>&1; rc=$?
  count_tap "bad_inputs" "$tmp/out" "$rc"
fi

# FUZZ_TEST_SECONDS > 0 (make test): each libFuzzer harness built in FUZZ_DIR
# runs that long (tests/fuzz/run.sh); one test per harness, failed on a finding
if [ "$mode" = all ] && [ -n "$FUZZ_DIR" ] && [ -n "$FUZZ_TARGETS" ]; then
  if [ "${FUZZ_TEST_SECONDS:-0}" -gt 0 ] 2>/dev/null; then
    sh tests/fuzz/run.sh "$FUZZ_DIR" "$FUZZ_TEST_SECONDS" $FUZZ_TARGETS >"$tmp/fuzz.log" 2>&1; rc=$?
    n=0; : >"$tmp/out"
    for h in $FUZZ_TARGETS; do
      n=$((n + 1))
      line=$(grep "^$h " "$tmp/fuzz.log" | tail -n 1)
      found=$(echo "$line" | awk '{print $6}')
      if [ -n "$line" ] && [ "$found" = 0 ]; then echo "ok $n - $line" >>"$tmp/out"
      else { echo "not ok $n - $h: ${line:-no result}"; grep -A5 "^$h " "$tmp/fuzz.log" | sed 's/^/# /'; } >>"$tmp/out"; fi
    done
    { echo "1..$n"; cat "$tmp/out"; } >"$tmp/out2"
    [ -n "$VERBOSE" ] && cat "$tmp/fuzz.log"
    count_tap "fuzz (${FUZZ_TEST_SECONDS}s each)" "$tmp/out2" "$rc"
  else
    printf '1..1\nok 1 - libFuzzer runs # SKIP FUZZ_TEST_SECONDS=0\n' >"$tmp/out2"
    count_tap "fuzz" "$tmp/out2" 0
  fi
fi

# COCONUT_QUICK_EXPERIMENT=1 (make sanitize): one quick prosqa_k6 run, all
# methods, counted as one test (it must exit 0: a sanitizer report fails it)
if [ "$mode" = all ] && [ -n "$COCONUT_QUICK_EXPERIMENT" ] && [ -x "$COCONUT_BIN" ]; then
  "$COCONUT_BIN" run experiments/prosqa_k6.lua --preset quick --results "$tmp/quick" --data "$tmp/quick_data" \
    >"$tmp/quick.log" 2>&1; rc=$?
  if [ "$rc" -eq 0 ]; then printf '1..1\nok 1 - prosqa_k6 --preset quick\n' >"$tmp/out"
  else { printf '1..1\nnot ok 1 - prosqa_k6 --preset quick (exit %s)\n' "$rc"; sed 's/^/# /' "$tmp/quick.log" | tail -n 40; } >"$tmp/out"; fi
  count_tap "quick_experiment" "$tmp/out" "$rc"
fi

[ "$skip" -gt 0 ] && echo "$skip skipped (data or tools absent; see the messages above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
