#!/usr/bin/env bash
# Fuzz nntop's file readers with libFuzzer: scripts/fuzz.sh [idx|safetensors|runlog|tfevents|cifar|png|jpeg|all] [SECONDS]
# Builds the nntop-fuzz product with -sanitize=fuzzer (its own build folder), then runs each
# target for SECONDS (default 60) from the committed corpus in fuzz/corpus/TARGET; new inputs
# go to a scratch folder, crashes to fuzz/crashes/. Exit status non-zero when a target crashed.
#
# scripts/fuzz.sh replay: builds the plain replayer with AddressSanitizer (.build-asan) and runs
# every committed corpus file through its target once. Models is compiled -Ounchecked, so an
# out-of-bounds read there is silent without a sanitizer. Non-zero exit on any report.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}; seconds=${2:-60}
targets="idx safetensors runlog tfevents cifar png jpeg"

if [ "$which" = replay ]; then
    swift build --product nntop-fuzz --scratch-path .build-asan -Xswiftc -sanitize=address >/dev/null
    bin=$(swift build --product nntop-fuzz --scratch-path .build-asan -Xswiftc -sanitize=address --show-bin-path)/nntop-fuzz
    status=0
    for t in $targets; do
        # Leak reports would be Foundation's caches at exit, not reader bugs: out-of-bounds and
        # use-after-free are what this step is for.
        if ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$bin" "$t" "fuzz/corpus/$t"; then :; else
            status=1
            echo "fuzz: replaying fuzz/corpus/$t under AddressSanitizer FAILED" >&2
        fi
    done
    exit $status
fi

swift build -c release --product nntop-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING >/dev/null
bin=.build-fuzz/release/nntop-fuzz
mkdir -p fuzz/crashes
status=0
for t in $targets; do
    [ "$which" = all ] || [ "$which" = "$t" ] || continue
    work=$(mktemp -d)
    cp fuzz/corpus/$t/* "$work/"
    echo "fuzz: $t for ${seconds}s"
    if NNTOP_FUZZ_TARGET=$t "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=fuzz/crashes/$t- "$work" 2> "$work.log"; then
        echo "fuzz: $t: $(grep -Eo '#[0-9]+' "$work.log" | tail -1 | tr -d '#') runs, no crash"
    else
        status=1
        echo "fuzz: $t CRASHED; see fuzz/crashes/ and $work.log" >&2
        tail -30 "$work.log" >&2
    fi
done
exit $status
