#!/bin/sh
# run_tests.sh MODE BIN... — runs the C test binaries (cmocka, TAP output) and,
# for MODE=all, the Lua suite; prints per-suite results and ends with exactly one
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

[ "$skip" -gt 0 ] && echo "$skip skipped (data or tools absent; see the messages above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
