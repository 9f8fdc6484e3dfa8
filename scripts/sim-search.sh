#!/usr/bin/env bash
# A long search of both simulators (core/tests/cluster_sim.rs and
# core/tests/membership_sim.rs): SEEDS seeds per simulator (default 100,000)
# from BASE (default 0), shared among its random tests as CI shares them
# (cluster_sim: 2/3 without ipfail, 1/3 with; membership_sim: 4/5 on 3 to 5
# nodes, 1/5 on 6 to 8), cut into slices of 1000 seeds run in parallel, one
# process per core. At the end it gives each test's count of seeds run and
# failed, lists every failing seed with its broken invariant, and exits 1 if
# there was one.
#
#   scripts/sim-search.sh [SEEDS [BASE]]
#   scripts/sim-search.sh --report LOG_DIR   # the same summary of a run's logs,
#                                            # also of one interrupted or still running
#
# Environment: JOBS (parallel processes; default nproc), SIMS (the simulators;
# default "cluster_sim membership_sim"), LOG_DIR (each slice's output; default
# a new directory in /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

report_only=
if [ "${1:-}" = --report ]; then
    report_only=${2:?usage: $0 --report LOG_DIR}
    set -- 0
fi
seeds=${1:-100000}
base=${2:-0}
jobs=${JOBS:-$(nproc)}
sims=${SIMS:-cluster_sim membership_sim}
slice=1000
case "$seeds$base$jobs" in *[!0-9]*) echo "usage: $0 [SEEDS [BASE]] (numbers)" >&2; exit 2 ;; esac
[ "$jobs" -ge 1 ] || jobs=1

# target:test:weight (the test's share of its simulator's seeds).
tests=()
for sim in $sims; do
    case $sim in
    cluster_sim) tests+=(cluster_sim:random_faults_keep_every_invariant:2
        cluster_sim:ipfail_random_faults_keep_every_invariant:1) ;;
    membership_sim) tests+=(membership_sim:random_faults_on_3_to_5_nodes:4
        membership_sim:random_faults_on_6_to_8_nodes:1) ;;
    *) echo "sim-search: no simulator $sim" >&2; exit 2 ;;
    esac
done

report() {
    for t in "${tests[@]}"; do
        t=${t%:*} total=0 failed=0 missing=0
        compgen -G "$log_dir/${t/:/.}.*.log" >/dev/null || continue
        for log in "$log_dir/${t/:/.}".*.log; do
            line=$(grep -h "seeds in" "$log" | tail -n 1) || { missing=$(( missing + 1 )); continue; }
            total=$(( total + $(echo "$line" | sed 's/.*: \([0-9]*\) seeds in.*/\1/') ))
            failed=$(( failed + $(echo "$line" | sed 's/.*, \([0-9]*\) failed$/\1/') ))
        done
        echo "${t/:/::}: $total seeds run, $failed failed$( (( missing )) && echo ", $missing slice(s) unfinished")"
    done
    if grep -h "^SIM-FAIL " "$log_dir"/*.log 2>/dev/null | sort -t= -k2 -n >"$log_dir/failures.txt"; [ -s "$log_dir/failures.txt" ]; then
        echo "failing seeds (replay: SIM_SEED=n cargo test -p hb-core --test TARGET TEST):"
        cat "$log_dir/failures.txt"
        exit 1
    fi
    echo "no failing seed"
    exit 0
}
if [ -n "$report_only" ]; then
    log_dir=$report_only
    report
fi
log_dir=${LOG_DIR:-$(mktemp -d /tmp/sim-search.XXXXXX)}
mkdir -p "$log_dir"

# Build once; run the test executables themselves (no cargo lock while they run).
for target in cluster_sim membership_sim; do
    path=$(cargo test -p hb-core --test "$target" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    [ -x "$path" ] || { echo "sim-search: could not build $target" >&2; exit 2; }
    # A copy: a build while the search runs must not replace it.
    cp "$path" "$log_dir/$target"
    export "exe_$target=$log_dir/$target"
done

echo "sim-search: $seeds seeds per simulator from $base, $jobs processes, logs in $log_dir"
started=$(date +%s)
# Each test's seeds in slices, interleaved so that a partial run covers every test.
declare -A share
for t in "${tests[@]}"; do
    target=${t%%:*} weight=${t##*:} total=0
    for u in "${tests[@]}"; do [ "${u%%:*}" = "$target" ] && total=$(( total + ${u##*:} )); done
    share[$t]=$(( seeds * weight / total ))
done
slices=()
for (( k = 0; k * slice < seeds; k++ )); do
    for t in "${tests[@]}"; do
        n=$(( share[$t] - k * slice ))
        (( n > slice )) && n=$slice
        (( n > 0 )) && slices+=("${t%:*}:$(( base + k * slice )):$n")
    done
done
run_slice() {
    local target=${1%%:*} rest=${1#*:}
    local test=${rest%%:*} range=${rest#*:}
    local from=${range%%:*} n=${range#*:}
    local exe="exe_$target" log="$log_dir/$target.$test.$from.log"
    SIM_BASE=$from SIM_RUNS=$n RUST_BACKTRACE=0 "${!exe}" --exact "$test" --nocapture >"$log" 2>&1 || true
    grep -h "seeds in" "$log" || echo "$target::$test: range $from+$n did not finish (see $log)"
}
export -f run_slice
export log_dir
printf '%s\n' "${slices[@]}" | xargs -P "$jobs" -I{} bash -c 'run_slice "$1"' _ {}

echo "sim-search: done in $(( $(date +%s) - started )) s"
report
