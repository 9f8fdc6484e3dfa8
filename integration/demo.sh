#!/usr/bin/env bash
# A live demo: two heartbeat nodes in network namespaces on this machine find
# each other, one is killed and declared dead, comes back, then both stop
# gracefully. Needs root (network namespaces). Cleans up after itself.
#
#   bash integration/demo.sh [path/to/heartbeat]
set -euo pipefail

bin=${1:-target/release/heartbeat}
[ -x "$bin" ] || { echo "demo: no heartbeat binary at $bin (build it with cargo build --release)" >&2; exit 1; }
bin=$(realpath "$bin")
[ "$(id -u)" = 0 ] || { echo "demo: must run as root (it creates network namespaces)" >&2; exit 1; }

tag="hbdemo$$"
work=$(mktemp -d "/tmp/$tag.XXXX")
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for ns in "$tag-n1" "$tag-n2" "$tag-sw"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# mark FILE: remembers how many lines FILE has, so that wait_for only looks at
# what comes after.
declare -A marks
mark() { marks[$1]=$(wc -l < "$1" 2>/dev/null || echo 0); }

# wait_for FILE TEXT SECONDS: polls until a line containing TEXT appears in FILE
# (after its mark, if any).
wait_for() {
    local deadline=$((SECONDS + $3)) from=$(( ${marks[$1]:-0} + 1 ))
    until tail -n "+$from" "$1" 2>/dev/null | grep -qF -- "$2"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "demo: timed out waiting for '$2' in $1" >&2
            cat "$1" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
    tail -n "+$from" "$1" | grep -F -- "$2" | head -n 1
}

say "building two nodes on a private network (203.0.113.0/24) in namespaces $tag-*"
ip netns add "$tag-sw"
ip -n "$tag-sw" link add br0 type bridge
ip -n "$tag-sw" link set br0 up
for i in 1 2; do
    ns="$tag-n$i"
    ip netns add "$ns"
    ip link add "${tag}a$i" type veth peer name "${tag}b$i"
    ip link set "${tag}a$i" netns "$ns"
    ip link set "${tag}b$i" netns "$tag-sw"
    ip -n "$ns" link set "${tag}a$i" name eth1
    ip -n "$ns" addr add "203.0.113.1$i/24" brd + dev eth1
    ip -n "$ns" link set eth1 up
    ip -n "$ns" link set lo up
    ip -n "$tag-sw" link set "${tag}b$i" master br0
    ip -n "$tag-sw" link set "${tag}b$i" up
    mkdir -p "$work/n$i/etc" "$work/n$i/state"
    cat > "$work/n$i/etc/ha.cf" <<EOF
logfile $work/n$i/ha-log
keepalive 200ms
warntime 500ms
deadtime 1
initdead 10
bcast eth1
auto_failback on
node n1 n2
EOF
    : > "$work/n$i/etc/haresources"
    printf 'auth 1\n1 sha1 demo-key-%s\n' "$tag" > "$work/n$i/etc/authkeys"
    chmod 600 "$work/n$i/etc/authkeys"
done

start() {
    ip netns exec "$tag-n$1" "$bin" run -c "$work/n$1/etc" --node-name "n$1" --state-dir "$work/n$1/state" --run-dir "$work/n$1/run" --pid-file "$work/n$1/heartbeat.pid" \
        >> "$work/n$1/stderr" 2>&1 &
    pids+=($!)
    eval "pid$1=$!"
}

say "starting n1 and n2 (keepalive 200ms, deadtime 1s)"
start 1
start 2
wait_for "$work/n1/ha-log" "Link n2:eth1 up." 10
wait_for "$work/n2/ha-log" "Link n1:eth1 up." 10
wait_for "$work/n1/ha-log" "Status update for node n2: status active" 10
wait_for "$work/n2/ha-log" "Local status now set to: 'active'" 10

say "kill -9 n2: n1 declares it dead after n2's advertised dead time"
echo "   (deadtime 1 s; like 3.0.6, a node advertises 2 s more during its first 5 s)"
mark "$work/n1/ha-log"
kill -KILL "$pid2"
wait "$pid2" 2>/dev/null || true
killed=$(date +%s%N)
wait_for "$work/n1/ha-log" "node n2: is dead" 10
echo "   (declared dead $(( ($(date +%s%N) - killed) / 1000000 )) ms after the kill, as seen by this script)"

say "n2 comes back with a new generation"
mark "$work/n1/ha-log"
start 2
wait_for "$work/n1/ha-log" "Heartbeat restart on node n2" 10
wait_for "$work/n1/ha-log" "Status update for node n2: status active" 10

wait_for "$work/n1/ha-log" "Link n2:eth1 up." 10

say "graceful stop of n2: n1 takes the shutdown notice at once"
mark "$work/n1/ha-log"
kill -TERM "$pid2"
wait_for "$work/n1/ha-log" "Received shutdown notice from 'n2'." 10
kill -TERM "$pid1"
wait_for "$work/n1/ha-log" "Heartbeat shutdown complete." 10

say "n1's log"
cat "$work/n1/ha-log"
say "demo complete"
