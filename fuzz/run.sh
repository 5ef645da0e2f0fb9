#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60) and prints, per
# target, how many inputs libFuzzer executed and for how long.
#
#   fuzz/run.sh 60           # every target, one minute each
#   fuzz/run.sh 10 irc_stream  # one target
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The
# seed corpora in fuzz/corpus/<target>/ are the committed starting points;
# new inputs libFuzzer finds go to a scratch copy (fuzz/corpus-run/, ignored)
# so the committed seeds stay small. Crashes land in fuzz/artifacts/<target>/.
# Inputs are capped at 4 KiB, each run at 2 GiB RSS and 10 s per input: a
# target that allocates unboundedly or loops forever fails the run.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build >/dev/null
printf '%-16s %12s %8s %s\n' target iterations seconds result
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus-run/$t"
    cp -n "corpus/$t"/* "corpus-run/$t/" 2>/dev/null || true
    log=$(mktemp)
    start=$(date +%s)
    if cargo +nightly fuzz run "$t" "corpus-run/$t" -- \
        -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log)"
        status=1
    fi
    end=$(date +%s)
    iters=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    printf '%-16s %12s %8s %s\n' "$t" "$iters" "$((end - start))" "$result"
    [ "$result" = ok ] && rm -f "$log"
done
exit $status
