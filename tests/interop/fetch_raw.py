#!/usr/bin/python3
"""fetch_raw.py PORT TOPIC FILE [PID]: one Fetch v4 of TOPIC partition 0
from offset 0 on one connection, read as far as the broker sends (a frame
cut by a closed connection included), then check that every record byte
received is the byte at the same position of FILE, the partition's first
segment.  Prints "error=E bytes=N" and exits 0, or names the first byte
that is not the log's and exits 1.

With PID (the broker's), the broker has no free file descriptor while it
answers the fetch (its soft RLIMIT_NOFILE is lowered to its lowest free
descriptor, then restored), so it cannot map the segment and must read it.
"""
import os
import resource
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from badinput import connect, kstr, request, s32  # noqa: E402


def fetch_v4(topic):
    body = (s32(-1) + s32(0) + s32(1) + s32(64 << 20) + b"\0"  # replica, wait, min, max, isolation
            + s32(1) + kstr(topic) + s32(1)
            + s32(0) + struct.pack(">q", 0) + s32(64 << 20))   # partition, offset, max bytes
    return request(1, 4, 7, body, b"fetch_raw")


def recv_all(s):
    buf = b""
    s.settimeout(10)
    while True:
        try:
            chunk = s.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            return buf
        if not chunk:
            return buf
        buf += chunk
        if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
            return buf


def main():
    port, topic, path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
    with open(path, "rb") as f:
        log = f.read()
    s = connect(port)
    if len(sys.argv) > 4:
        pid = int(sys.argv[4])
        s.sendall(request(18, 0, 1, b"", b"fetch_raw"))  # ApiVersions: accepted
        recv_all(s)
        used = set(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))
        free = min(set(range(len(used) + 1)) - used)
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (free, old[1]))
        try:
            s.sendall(fetch_v4(topic))
            buf = recv_all(s)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    else:
        s.sendall(fetch_v4(topic))
        buf = recv_all(s)
    # size, corr, throttle, topics[1], topic, partitions[1], partition, error, hw, lso, aborted
    at = 4 + 4 + 4 + 4 + 2 + len(topic) + 4 + 4
    if len(buf) < at + 2 + 8 + 8 + 4 + 4:
        print("response cut after %d bytes" % len(buf))
        return 1
    (err,) = struct.unpack(">h", buf[at:at + 2])
    at += 2 + 8 + 8
    (naborted,) = struct.unpack(">i", buf[at:at + 4])
    at += 4 + max(naborted, 0) * 16
    (n,) = struct.unpack(">i", buf[at:at + 4])
    got = buf[at + 4:at + 4 + max(n, 0)]
    for i, b in enumerate(got):
        if i >= len(log) or log[i] != b:
            print("error=%d bytes=%d: byte %d is %r, the file %s" %
                  (err, n, i, b, "ends at %d" % len(log) if i >= len(log) else "has %r" % log[i]))
            return 1
    print("error=%d bytes=%d" % (err, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
