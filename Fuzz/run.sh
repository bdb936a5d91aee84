#!/usr/bin/env bash
# Builds the libFuzzer targets (address sanitizer on) and runs each for a fixed time.
#
#   Fuzz/run.sh                      every fuzzer, 30 s each (what .ci/run does)
#   Fuzz/run.sh -t 3600 fuzz-cbor    one fuzzer, an hour
#   Fuzz/run.sh --list               the fuzzers
#
# Corpora grow in Fuzz/.build/corpus/<fuzzer> between local runs; seeds come from ../shared/data,
# the project's built trustlets and Fuzz/seeds.py. A crash leaves its input in fuzz-out/<fuzzer>/
# and the script exits 1 naming it; make it a regression test (Tests/TrubiZoneTests/Fuzz).
set -euo pipefail
cd "$(dirname "$0")"
fuzzers=(fuzz-frame fuzz-cbor fuzz-token fuzz-package fuzz-fhir)
seconds=30
chosen=()
while [ $# -gt 0 ]; do
    case "$1" in
        -t|--seconds) seconds="$2"; shift 2 ;;
        --list) printf '%s\n' "${fuzzers[@]}"; exit 0 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        fuzz-*) chosen+=("$1"); shift ;;
        *) echo "error: unknown argument '$1'; see Fuzz/run.sh --help" >&2; exit 64 ;;
    esac
done
[ ${#chosen[@]} -gt 0 ] || chosen=("${fuzzers[@]}")
for name in "${chosen[@]}"; do
    [[ " ${fuzzers[*]} " == *" $name "* ]] || { echo "error: no fuzzer '$name'; see Fuzz/run.sh --list" >&2; exit 64; }
done

# Release: SwiftPM's debug executables carry their own entry point, which clashes with libFuzzer's
# driver. lld: gold trips over the sanitizer's symbols.
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)
echo "== building the fuzzers (release, address sanitizer)"
bin=$(swift build "${flags[@]}" --show-bin-path)
# A binary left by an earlier build must not stand in for one that no longer builds.
for name in "${chosen[@]}"; do rm -f "$bin/$name"; done
mkdir -p .build
if ! swift build "${flags[@]}" > .build/fuzz-build.log 2>&1; then
    { grep -v "Cannot export local symbol" .build/fuzz-build.log | grep -E "error" || tail -20 .build/fuzz-build.log; } | head -20 >&2 || true
    echo "error: the fuzzers did not build; the whole log is Fuzz/.build/fuzz-build.log" >&2
    exit 1
fi
grep -v "Cannot export local symbol" .build/fuzz-build.log | grep -E "warning: |Build" || true
for name in "${chosen[@]}"; do
    [ -x "$bin/$name" ] || { echo "error: $name did not build; run 'swift build ${flags[*]}' in Fuzz/ to see why" >&2; exit 1; }
done

seeds=.build/seeds
rm -rf "$seeds"
python3 seeds.py "$seeds"

failed=()
for name in "${chosen[@]}"; do
    corpus=.build/corpus/$name
    out=../fuzz-out/$name
    mkdir -p "$corpus" "$out" "$seeds/$name"
    echo "== $name: ${seconds} s"
    # -timeout: one input may not take 10 s; -rss_limit_mb: nor 2 GiB; -max_len: large enough for a page of FHIR.
    if ! "$bin/$name" "$corpus" "$seeds/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -artifact_prefix="$out/" -print_final_stats=1 > "$out/log.txt" 2>&1; then
        failed+=("$name")
        grep -E "ERROR|SUMMARY|Fatal error|Test unit written|Precondition" "$out/log.txt" | head -20 >&2 || true
        echo "error: $name failed; its log is fuzz-out/$name/log.txt; reproduce with: $bin/$name fuzz-out/$name/<crash-file>" >&2
    elif [ "$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$out/log.txt" | tail -1)" -gt 0 ] 2>/dev/null; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/log.txt" | sed "s/^/  /"
        echo "  corpus: $(ls "$corpus" | wc -l) inputs"
    else
        failed+=("$name")
        echo "error: $name ran no input; its log is fuzz-out/$name/log.txt" >&2
    fi
done
[ ${#failed[@]} -eq 0 ] || { echo "error: fuzzers failed: ${failed[*]}" >&2; exit 1; }
echo "== every fuzzer ran ${seconds} s without a crash"
