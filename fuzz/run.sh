#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 60 seconds, all targets). Stops at the first crash, hang or leak and
# prints where the reproducer is. Not part of CI: run it by hand, longer when
# you can. New inputs that reach new code are added to fuzz/corpus/TARGET/;
# commit them after `cargo +nightly fuzz cmin TARGET` if the corpus grows.
set -euo pipefail

seconds="${1:-60}"
shift || true
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

for target in "${targets[@]}"; do
    echo "=== $target: ${seconds}s" >&2
    mkdir -p "fuzz/corpus/$target"
    # Debug assertions on: an arithmetic overflow is a crash too. A single input
    # that takes over 10 s, or a process over 2 GiB, counts as a failure: the
    # decoders must be bounded in time and memory.
    if ! cargo +nightly fuzz run --debug-assertions "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1; then
        echo >&2
        echo "FAILED: $target. Reproducer(s):" >&2
        ls -t "fuzz/artifacts/$target"/* 2>/dev/null | head -3 | sed 's/^/  /' >&2 || true
        echo "Replay one with: cargo +nightly fuzz run --debug-assertions $target <file>" >&2
        echo "Show it as the target sees it: cargo +nightly fuzz fmt $target <file>" >&2
        exit 1
    fi
done
echo "all ${#targets[@]} targets ran ${seconds}s each without a failure" >&2
