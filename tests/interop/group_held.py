#!/usr/bin/python3
"""Held group requests on raw connections (60-groups-broker.bats).

group_held.py PORT GROUP

1. Connection A pipelines JoinGroup v1 (held: the group's first rebalance
   waits group.initial.rebalance.delay.ms) and a Heartbeat queued behind it,
   then closes before any answer.
2. Connection B pipelines JoinGroup v1 and ListGroups v0.  Both answers must
   come back, in request order, the join with error 0 and generation 1 and
   ListGroups naming the group.
Prints "ok" or exits non-zero with the reason.
"""
import socket
import struct
import sys


def i16(x):
    return struct.pack(">h", x)


def i32(x):
    return struct.pack(">i", x)


def string(s):
    b = s.encode()
    return i16(len(b)) + b


def frame(key, ver, corr, body):
    p = i16(key) + i16(ver) + i32(corr) + string("kq-held") + body
    return i32(len(p)) + p


def join_body(group):
    # ConsumerProtocolSubscription v0: no topics, null user data
    meta = i16(0) + i32(0) + i32(-1)
    return (string(group) + i32(6000) + i32(10000) + string("") + string("consumer")
            + i32(1) + string("range") + i32(len(meta)) + meta)


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("connection closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def read_resp(s):
    n = struct.unpack(">i", read_exact(s, 4))[0]
    r = read_exact(s, n)
    return struct.unpack(">i", r[:4])[0], r[4:]


def main():
    port, group = int(sys.argv[1]), sys.argv[2]
    a = socket.create_connection(("127.0.0.1", port), timeout=30)
    a.sendall(frame(11, 1, 1, join_body(group)) +
              frame(12, 0, 2, string(group) + i32(0) + string("nobody")))
    a.close()

    b = socket.create_connection(("127.0.0.1", port), timeout=30)
    b.sendall(frame(11, 1, 7, join_body(group)) + frame(16, 0, 8, b""))
    corr, body = read_resp(b)
    if corr != 7:
        sys.exit("first answer has correlation id %d, want 7" % corr)
    err, gen = struct.unpack(">hi", body[:6])
    if err != 0 or gen != 1:
        sys.exit("JoinGroup: error %d generation %d" % (err, gen))
    corr, body = read_resp(b)
    if corr != 8:
        sys.exit("second answer has correlation id %d, want 8" % corr)
    if struct.unpack(">h", body[:2])[0] != 0 or group.encode() not in body:
        sys.exit("ListGroups: %r" % body)
    b.close()
    print("ok")


if __name__ == "__main__":
    main()
