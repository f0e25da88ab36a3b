#!/usr/bin/env bash
# Fuzz one parser target (or all of them, one after the other) for MINUTES each.
#
#   tools/fuzz/run.sh TARGET|all MINUTES [OUT]
#
# Builds simply-fuzz with libFuzzer (coverage-guided; -sanitize=fuzzer) into
# .build-fuzz; if that build fails, falls back to the mutation fuzzer of the
# normal build. Per target, OUT/TARGET (default .build-fuzz/runs/TARGET) holds
# corpus/ (seeds + what libFuzzer kept), crashes/ (crashing, out-of-memory and
# slow inputs) and log.txt. Prints one summary line per target: minutes,
# executions, crashes, and libFuzzer's final cov/ft. Runs at nice 19.
# Targets: json safetensors manifest tokenizer config jsonl.
#
# SIMPLY_FUZZ_SANITIZE=address adds AddressSanitizer (out-of-bounds reads
# through unsafe pointers, which release builds do not check); about 15x
# slower, built into .build-fuzz-address.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH

target=${1:?usage: tools/fuzz/run.sh TARGET|all MINUTES [OUT]}
minutes=${2:?usage: tools/fuzz/run.sh TARGET|all MINUTES [OUT]}
out=${3:-.build-fuzz/runs}
targets=(json safetensors manifest tokenizer config jsonl)
[[ $target == all ]] || targets=("$target")

mode=libfuzzer
sanitize=fuzzer scratch=.build-fuzz
if [[ ${SIMPLY_FUZZ_SANITIZE:-} == address ]]; then sanitize=fuzzer,address scratch=.build-fuzz-address; fi
if ! nice -n 10 swift build -c release --product simply-fuzz --scratch-path $scratch \
        -Xswiftc -sanitize=$sanitize -Xswiftc -parse-as-library -Xswiftc -DSIMPLY_LIBFUZZER >.build-fuzz-build.log 2>&1; then
    echo "libFuzzer build failed (see .build-fuzz-build.log); using the mutation fuzzer" >&2
    mode=mutation
    nice -n 10 swift build -c release --product simply-fuzz >&2
fi
rm -f .build-fuzz-build.log
bin=$(swift build -c release --product simply-fuzz --show-bin-path $([[ $mode == libfuzzer ]] && echo --scratch-path $scratch))/simply-fuzz

for t in "${targets[@]}"; do
    dir=$out/$t
    mkdir -p "$dir/corpus" "$dir/crashes"
    seconds=$((minutes * 60))
    if [[ $mode == libfuzzer ]]; then
        # libFuzzer stops at the first crash; its input is in crashes/ (crash-*, oom-*, timeout-*).
        SIMPLY_FUZZ_TARGET=$t SIMPLY_FUZZ_SEED_DIR=$dir/corpus SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 \
            nice -n 19 "$bin" "$dir/corpus" -max_total_time=$seconds -artifact_prefix="$dir/crashes/" \
            -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 -dict=tools/fuzz/json.dict >"$dir/log.txt" 2>&1 || true
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt" | tail -1)
        [[ -n $runs ]] || runs=$(grep -o '^#[0-9]*' "$dir/log.txt" | tail -1 | tr -d '#')
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$dir/log.txt" | tail -1)
    else
        SWIFT_BACKTRACE=enable=no nice -n 19 "$bin" "$t" --seconds "$seconds" --crashes "$dir/crashes" >"$dir/log.txt" 2>&1 || true
        runs=$(sed -n 's/.*: \([0-9]*\) inputs tried.*/\1/p' "$dir/log.txt")
        cov="cov: n/a (mutation fuzzer)"
    fi
    crashes=$(find "$dir/crashes" -type f | wc -l)
    echo "$t: $minutes min, ${runs:-0} executions, $crashes crash file(s) in $dir/crashes, $cov ($mode)"
done
