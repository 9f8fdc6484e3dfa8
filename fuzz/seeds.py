#!/usr/bin/env python3
"""Writes the named seed inputs of fuzz/corpus/ (the other files there are
inputs the fuzzer found and `cargo fuzz cmin` kept). Run from anywhere:

    python3 fuzz/seeds.py [PATH-TO-heartbeat]

- wire_decode: captured 3.0.6 packets from core/tests/vectors/, and the same
  messages in the text form (>>> ... <<<), signed with the capture's key;
- wire_signed: mode byte 0, the key table's index (see fuzz/src/lib.rs), then
  the packet without its trailer, or the text form without its auth= line;
- hacf, haresources, authkeys: the files of conf/examples/ and the captures;
- toml: conf/examples/cluster.toml, and every example directory as
  `heartbeat convert-config` writes it (when a heartbeat binary is given or built);
- control: every request the control socket knows.
"""
import base64
import glob
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "core/tests/vectors")
EXAMPLES = os.path.join(ROOT, "conf/examples")
CORPUS = os.path.join(ROOT, "fuzz/corpus")

# Capture folder -> index in fuzz/src/lib.rs capture_keys(), and its sending key.
CAPTURES = {
    "netns-sha1": (0, "sha1", b"hbA-sha1-key", 1),
    "netns-md5": (1, "md5", b"hbA-md5-key", 1),
    "netns-crc": (2, "crc", None, 1),
    "loopback-sha1-msgtypes": (3, "sha1", b"testkey", 2),
}


def crc_cksum(data):
    """CRC-32/CKSUM without the length, as heartbeat's crc method."""
    crc = 0
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc ^ 0xFFFFFFFF


def sign(method, key, slot, data):
    if method == "crc":
        digest = "%x" % crc_cksum(data)
    else:
        digest = hmac.new(key, data, getattr(hashlib, method)).hexdigest()
    return "%d %s" % (slot, digest)


def parse_netstring(packet):
    """Fields (type, name, value) and the length of ### ... %%%\\n."""
    assert packet.startswith(b"###\n")
    pos, fields = 4, []
    while not packet[pos:].startswith(b"%%%\n"):
        colon = packet.index(b":", pos)
        n = int(packet[pos:colon])
        data = packet[colon + 1 : colon + 1 + n]
        pos = colon + 2 + n
        eq = data.index(b"=", 3)
        fields.append((data[1] - 48, data[3:eq], data[eq + 1 :]))
    return fields, pos + 4


def text_lines(fields):
    """The text form's field lines without auth, or None for nested values."""
    out = b""
    for ty, name, value in fields:
        if name == b"auth":
            continue
        if ty == 0:
            out += name + b"=" + value.replace(b"\n", b"\x13") + b"\n"
        elif ty in (1, 4):
            out += b"(%d)" % ty + name + b"=" + base64.b64encode(value) + b"\n"
        else:
            return None
    return out


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)
    # libFuzzer names the inputs it keeps by their SHA-1: drop that copy.
    copy = os.path.join(folder, hashlib.sha1(data).hexdigest())
    if os.path.exists(copy):
        os.remove(copy)


def wire():
    for folder, (index, method, key, slot) in CAPTURES.items():
        files = sorted(glob.glob(os.path.join(VECTORS, folder, "*.bin")))
        if folder.startswith("netns-"):
            # The bcast and ucast captures differ only in numbers: a few of each.
            files = [f for f in files if "bcast" in f][:3] + [f for f in files if "ucast" in f][:3]
        for path in files:
            packet = open(path, "rb").read()
            base = folder + "-" + os.path.basename(path)[: -len(".bin")]
            fields, end = parse_netstring(packet)
            write("wire_decode", base, packet)
            write("wire_signed", base, bytes([0, index]) + packet[:end])
            lines = text_lines(fields)
            if lines is None:
                continue
            auth = b"auth=" + sign(method, key, slot, lines).encode() + b"\n"
            write("wire_decode", base + "-text", b">>>\n" + lines + auth + b"<<<\n")
            write("wire_signed", base + "-text", bytes([0, index]) + b">>>\n" + lines + b"<<<\n")


def conf(heartbeat):
    dirs = sorted(d for d in os.listdir(EXAMPLES) if os.path.isdir(os.path.join(EXAMPLES, d)))
    for d in dirs:
        for name, target in (("ha.cf", "hacf"), ("haresources", "haresources"), ("authkeys", "authkeys")):
            write(target, d, open(os.path.join(EXAMPLES, d, name), "rb").read())
    for folder in CAPTURES:
        for name, target in (("ha.cf", "hacf"), ("authkeys", "authkeys")):
            path = os.path.join(VECTORS, folder, name)
            if os.path.exists(path):
                write(target, folder, open(path, "rb").read())
    write("toml", "cluster.toml", open(os.path.join(EXAMPLES, "cluster.toml"), "rb").read())
    if heartbeat is None:
        print("no heartbeat binary: the converted examples are not written", file=sys.stderr)
        return
    for d in dirs:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("ha.cf", "haresources", "authkeys"):
                shutil.copy(os.path.join(EXAMPLES, d, name), tmp)
            os.chmod(os.path.join(tmp, "authkeys"), 0o600)
            out = subprocess.run(
                [heartbeat, "convert-config", "-c", tmp], check=True, capture_output=True
            ).stdout
        write("toml", d + ".toml", out)


def control():
    for verb in ("standby", "takeover"):
        write("control", verb, (verb + "\n").encode())
        for held in ("all", "local", "foreign", "failback"):
            write("control", verb + "-" + held, ("%s %s\n" % (verb, held)).encode())


def main():
    heartbeat = sys.argv[1] if len(sys.argv) > 1 else None
    for candidate in ("target/release/heartbeat", "target/debug/heartbeat"):
        path = os.path.join(ROOT, candidate)
        if heartbeat is None and os.access(path, os.X_OK):
            heartbeat = path
    wire()
    conf(heartbeat)
    control()


if __name__ == "__main__":
    main()
