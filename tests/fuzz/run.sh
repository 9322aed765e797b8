#!/bin/sh
# run.sh FUZZ_DIR SECONDS HARNESS... — runs each libFuzzer harness (built by
# `make fuzz` into FUZZ_DIR) for SECONDS under ASan + UBSan and prints, per
# harness, the executions and the findings (crashes, leaks, timeouts, OOMs).
#
# The working corpus of a harness is FUZZ_DIR/corpus/<harness>/ (kept between
# runs, so a longer run continues where the last stopped), seeded from
#   tests/fuzz/corpus/<harness>/   hand-made and generated seeds (committed)
#   tests/fuzz/regress/<harness>/  every reproducer found so far
#   real files found at run time (not copied into the project): the fixtures
#   of tests/fixtures/ and, when present, ../shared/data (COCONUT_SHARED_DATA),
#   cut to their first 64 KiB.
# A finding is copied into tests/fuzz/regress/<harness>/ (the replay of
# `make test` runs it from then on) and the exit status is 1.
fdir=$1; secs=$2; shift 2
shared=${COCONUT_SHARED_DATA:-../shared/data}
status=0
echo "fuzzing, $secs s per harness under ASan + UBSan (logs, corpora and artifacts in $fdir):"

seed_real() { # harness file...: the first 64 KiB of each existing file
  h=$1; shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    head -c 65536 "$f" >"$fdir/corpus/$h/real_$(echo "$f" | tr '/.' '__')"
  done
}

for h in "$@"; do
  bin="$fdir/$h"
  [ -x "$bin" ] || { echo "fuzz: $bin is missing"; status=1; continue; }
  mkdir -p "$fdir/corpus/$h" "$fdir/artifacts/$h"
  cp tests/fuzz/corpus/"$h"/* "$fdir/corpus/$h/" 2>/dev/null
  cp tests/fuzz/regress/"$h"/* "$fdir/corpus/$h/" 2>/dev/null
  case $h in
    fuzz_prosqa) for f in "$shared"/prosqa/*.json; do
                   [ -f "$f" ] && { printf '\001'; head -c 65536 "$f"; } >"$fdir/corpus/$h/real_$(basename "$f")"; done ;;
    fuzz_prontoqa) seed_real "$h" "$shared"/prontoqa/*.json ;;
    fuzz_gsm8k) seed_real "$h" "$shared"/gsm8k/*.txt ;;
    fuzz_safetensors) seed_real "$h" tests/fixtures/gpt2/*.safetensors tests/fixtures/latent/*.safetensors ;;
    fuzz_gpt2_tok)
      if [ -f tests/fixtures/tok/hf/vocab.json ]; then
        { cat tests/fixtures/tok/hf/vocab.json; printf '\000'; cat tests/fixtures/tok/hf/merges.txt; } | head -c 65536 \
          >"$fdir/corpus/$h/real_fixture_hf"
      fi ;;
    fuzz_csv) for f in results/*/*/*/metrics.csv; do seed_real "$h" "$f"; break; done ;;
  esac
  log="$fdir/$h.log"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "$fdir/corpus/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$fdir/artifacts/$h/" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
  found=$(ls "$fdir/artifacts/$h" 2>/dev/null | wc -l)
  if [ "$found" -gt 0 ]; then
    mkdir -p tests/fuzz/regress/"$h"
    cp "$fdir/artifacts/$h"/* tests/fuzz/regress/"$h"/
    status=1
  fi
  [ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && { status=1; found="?"; }
  printf '%-22s %10s executions  %6s coverage  %s findings\n' "$h" "${execs:-?}" "${cov:-?}" "$found"
  [ "$found" != 0 ] && grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | head -n 5 | sed 's/^/    /'
done
exit $status
