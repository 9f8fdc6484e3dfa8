#!/bin/sh
# Issue 9's five-minute packet-loss run: 30% loss on both media for 300 s, no
# false death, no move. CI runs the same test for 60 s.
set -eu
cd "$(dirname "$0")/.."
HB_LOSS_SECS=300 cargo test --test integration -- --nocapture loss::
