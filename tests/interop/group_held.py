#!/usr/bin/python3
"""Group requests on raw connections (60-groups-broker.bats), for what the
client libraries cannot send or cannot show.

group_held.py held PORT GROUP

1. Connection A pipelines JoinGroup v1 (held: the group's first rebalance
   waits group.initial.rebalance.delay.ms) and a Heartbeat queued behind it,
   then closes before any answer.
2. Connection B pipelines JoinGroup v1 and ListGroups v0.  Both answers must
   come back, in request order, the join with error 0 and generation 1 and
   ListGroups naming the group.
Prints "ok" or exits non-zero with the reason.

group_held.py lead PORT GROUP TOPIC
    JoinGroup v1 subscribed to TOPIC (session and rebalance timeouts 60 s),
    prints "leader" or "member" once the join is answered, and then never
    sends SyncGroup: a follower's SyncGroup stays held until this process
    is killed (60 s at most).

group_held.py offset-delete PORT GROUP TOPIC PARTITION
    OffsetDelete v0 (no client in scope but librdkafka's admin API sends it);
    prints the top-level and the partition error codes ("-" when a top-level
    error comes without partitions).
"""
import socket
import struct
import sys
import time


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


def join_body(group, topics=(), session=6000, rebalance=10000):
    # ConsumerProtocolSubscription v0: the topics, null user data
    meta = i16(0) + i32(len(topics)) + b"".join(string(t) for t in topics) + i32(-1)
    return (string(group) + i32(session) + i32(rebalance) + string("") + string("consumer")
            + i32(1) + string("range") + i32(len(meta)) + meta)


def read_string(b):
    n = struct.unpack(">h", b[:2])[0]
    return b[2:2 + max(n, 0)].decode(), b[2 + max(n, 0):]


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


def offset_delete(port, group, topic, part):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(frame(47, 0, 3, string(group) + i32(1) + string(topic) + i32(1) + i32(part)))
    corr, body = read_resp(s)
    s.close()
    if corr != 3:
        sys.exit("correlation id %d, want 3" % corr)
    err = struct.unpack(">h", body[:2])[0]
    # throttle, 1 topic, name, 1 partition, index, error
    rest = body[6:]
    ntopics = struct.unpack(">i", rest[:4])[0]
    if err != 0 and ntopics == 0:
        print(err, "-")
        return
    if ntopics != 1:
        sys.exit("OffsetDelete: %d topics in %r" % (ntopics, body))
    nlen = struct.unpack(">h", rest[4:6])[0]
    rest = rest[6 + nlen:]
    nparts, idx, perr = struct.unpack(">iih", rest[:10])
    if nparts != 1 or idx != part:
        sys.exit("OffsetDelete: %r" % body)
    print(err, perr)


def held(port, group):
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


def lead(port, group, topic):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(frame(11, 1, 1, join_body(group, [topic], 60000, 60000)))
    corr, body = read_resp(s)
    err, gen = struct.unpack(">hi", body[:6])
    if corr != 1 or err != 0:
        sys.exit("JoinGroup: correlation id %d, error %d" % (corr, err))
    _, rest = read_string(body[6:])
    leader, rest = read_string(rest)
    me, rest = read_string(rest)
    print("leader" if leader == me else "member", flush=True)
    time.sleep(60)


def main():
    if sys.argv[1] == "held":
        held(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "lead":
        lead(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "offset-delete":
        offset_delete(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit("unknown mode " + sys.argv[1])


if __name__ == "__main__":
    main()
