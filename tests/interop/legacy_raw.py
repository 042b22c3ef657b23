#!/usr/bin/python3
"""legacy_raw.py CMD PORT ARGS...: raw requests in the old versions (issue 10).

  produce PORT TOPIC VERSION CODEC N PREFIX   Produce v0/1 (magic 0) or v2 (magic 1) of N
      messages PREFIX-k<i>=PREFIX-v<i>, plain or wrapped (none|gzip|snappy);
      prints "error=E base=B"
  bad PORT TOPIC CASE    Produce v2 of a broken message set: crc | nested | bomb;
      prints "error=E"
  fetch PORT TOPIC VERSION OFFSET [MAXBYTES]   Fetch vVERSION of partition 0; checks every
      message's CRC-32 and magic (0 for v0-1, 1 for v2-3), prints
      "error=E hw=H" then "offset key value" per message; exit 1 on a bad message
  fetch-wait PORT TOPIC VERSION OFFSET PREFIX   a Fetch at the end, parked, then a
      Produce v0 of PREFIX-k0=PREFIX-v0 on another connection; prints as fetch
  listoffsets PORT TOPIC TIMESTAMP MAX   ListOffsets v0; prints "error=E offsets=a,b,..."
  commit PORT GROUP TOPIC VERSION OFFSET [GENERATION MEMBER]   OffsetCommit v0/v1 of
      partition 0; prints "error=E"
  offsetfetch PORT GROUP TOPIC   OffsetFetch v0 of partition 0; prints "error=E offset=O"
  versions PORT   ApiVersions v0; prints "KEY MIN MAX" per API
"""
import ctypes
import gzip
import os
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from badinput import connect, kstr, read_response, request, s16, s32  # noqa: E402

CODECS = {"none": 0, "gzip": 1, "snappy": 2}


def s64(v):
    return struct.pack(">q", v)


def kbytes(b):
    return s32(-1) if b is None else s32(len(b)) + b


def snappy_raw(data):
    lib = ctypes.CDLL("libsnappy.so.1")
    n = ctypes.c_size_t(lib.snappy_max_compressed_length(ctypes.c_size_t(len(data))))
    out = ctypes.create_string_buffer(n.value)
    if lib.snappy_compress(data, ctypes.c_size_t(len(data)), out, ctypes.byref(n)) != 0:
        raise RuntimeError("snappy_compress failed")
    return out.raw[:n.value]


def compress(codec, data):
    if codec == 1:
        return gzip.compress(data)
    return snappy_raw(data)


def message(offset, magic, attr, key, value, ts=None, crc_delta=0):
    body = bytes([magic, attr])
    if magic == 1:
        body += s64(int(time.time() * 1000) if ts is None else ts)
    body += kbytes(key) + kbytes(value)
    crc = (zlib.crc32(body) + crc_delta) & 0xffffffff
    msg = struct.pack(">I", crc) + body
    return s64(offset) + s32(len(msg)) + msg


def message_set(magic, codec, pairs, ts=None):
    inner = b"".join(message(i if magic == 1 else 0, magic, 0, k, v, ts)
                     for i, (k, v) in enumerate(pairs))
    if codec == 0:
        return inner
    return message(len(pairs) - 1, magic, codec, None, compress(codec, inner), ts)


def call(port, api, version, body, throttle=False):
    """Send one request; the response and the position of its first partition
    (one topic, one partition), or (None, 0) if the broker closed."""
    s = connect(port)
    s.sendall(request(api, version, 7, body, b"legacy_raw"))
    r = read_response(s)
    s.close()
    return r, first_partition(r, throttle)


def first_partition(r, throttle):
    if r is None:
        return 0
    p = 4 + (4 if throttle else 0) + 4
    return p + 2 + struct.unpack(">h", r[p:p + 2])[0] + 4


def produce(port, topic, version, records):
    body = (s16(-1) + s32(10000) + s32(1) + kstr(topic) + s32(1)
            + s32(0) + kbytes(records))
    r, p = call(port, 0, version, body)
    if r is None:
        return None
    _, err, base = struct.unpack(">ihq", r[p:p + 14])
    return err, base


def cmd_produce(port, topic, version, codec, n, prefix):
    version, n = int(version), int(n)
    pairs = [(("%s-k%d" % (prefix, i)).encode(), ("%s-v%d" % (prefix, i)).encode())
             for i in range(n)]
    out = produce(port, topic.encode(), version, message_set(1 if version == 2 else 0,
                                                             CODECS[codec], pairs))
    if out is None:
        print("closed")
        return 1
    print("error=%d base=%d" % out)
    return 0


def cmd_bad(port, topic, case):
    pairs = [(b"k", b"v"), (b"k2", b"v2")]
    if case == "crc":
        records = message(0, 1, 0, b"k", b"v", crc_delta=1)
    elif case == "nested":
        inner = message_set(1, 1, pairs)
        records = message(0, 1, 1, None, gzip.compress(inner))
    else:  # bomb: 2 MB of zeros in one message, gzip-wrapped to a few KB
        records = message_set(1, 1, [(b"k", bytes(2 << 20))])
    out = produce(port, topic.encode(), 2, records)
    print("closed" if out is None else "error=%d" % out[0])
    return 0


def walk(data, magic, out):
    """Messages of a message set; a cut trailing message is dropped, as clients do."""
    p = 0
    while p + 12 <= len(data):
        offset, size = struct.unpack(">qi", data[p:p + 12])
        if p + 12 + size > len(data):
            break
        m = data[p + 12:p + 12 + size]
        p += 12 + size
        (crc,) = struct.unpack(">I", m[:4])
        if zlib.crc32(m[4:]) != crc:
            raise ValueError("offset %d: bad CRC" % offset)
        if m[4] != magic:
            raise ValueError("offset %d: magic %d, want %d" % (offset, m[4], magic))
        if m[5] & 7:
            raise ValueError("offset %d: compressed" % offset)
        q = 6 + (8 if magic == 1 else 0)
        vals = []
        for _ in range(2):
            (n,) = struct.unpack(">i", m[q:q + 4])
            q += 4
            vals.append(None if n < 0 else m[q:q + n])
            q += max(n, 0)
        if q != len(m):
            raise ValueError("offset %d: %d bytes left over" % (offset, len(m) - q))
        out.append((offset, vals[0], vals[1]))


def fetch_body(topic, version, offset, maxbytes, wait=100):
    body = s32(-1) + s32(wait) + s32(1)
    if version >= 3:
        body += s32(maxbytes)
    return body + (s32(1) + kstr(topic.encode()) + s32(1)
                   + s32(0) + s64(offset) + s32(maxbytes))


def cmd_fetch(port, topic, version, offset, maxbytes="1048576"):
    version, offset, maxbytes = int(version), int(offset), int(maxbytes)
    r, p = call(port, 1, version, fetch_body(topic, version, offset, maxbytes), version >= 1)
    return print_fetch(r, p, version)


def cmd_fetch_wait(port, topic, version, offset, prefix):
    """A Fetch that must wait (max_wait 30 s), then, on another connection, a
    Produce v0 of one message PREFIX-k0=PREFIX-v0: the parked fetch answers."""
    version, offset = int(version), int(offset)
    s = connect(port)
    s.settimeout(60)
    s.sendall(request(1, version, 8, fetch_body(topic, version, offset, 1 << 20, 30000),
                      b"legacy_raw"))
    out = produce(port, topic.encode(), 0,
                  message_set(0, 0, [(prefix.encode() + b"-k0", prefix.encode() + b"-v0")]))
    if out is None or out[0] != 0:
        print("produce failed: %r" % (out,))
        return 1
    r = read_response(s)
    s.close()
    return print_fetch(r, first_partition(r, version >= 1), version)


def print_fetch(r, p, version):
    if r is None:
        print("closed")
        return 1
    _, err, hw, n = struct.unpack(">ihqi", r[p:p + 18])
    p += 18
    msgs = []
    try:
        walk(r[p:p + n], 1 if version >= 2 else 0, msgs)
    except ValueError as e:
        print("bad message: %s" % e)
        return 1
    print("error=%d hw=%d" % (err, hw))
    for o, k, v in msgs:
        print(o, (k or b"-").decode(), (v or b"-").decode())
    return 0


def cmd_listoffsets(port, topic, ts, mx):
    body = (s32(-1) + s32(1) + kstr(topic.encode()) + s32(1)
            + s32(0) + s64(int(ts)) + s32(int(mx)))
    r, p = call(port, 2, 0, body)
    if r is None:
        print("closed")
        return 1
    _, err, n = struct.unpack(">ihi", r[p:p + 10])
    offs = struct.unpack(">%dq" % n, r[p + 10:p + 10 + 8 * n])
    print("error=%d offsets=%s" % (err, ",".join(str(o) for o in offs)))
    return 0


def cmd_commit(port, group, topic, version, offset, gen="-1", member=""):
    version = int(version)
    body = kstr(group.encode())
    if version == 1:
        body += s32(int(gen)) + kstr(member.encode())
    body += s32(1) + kstr(topic.encode()) + s32(1) + s32(0) + s64(int(offset))
    if version == 1:
        body += s64(-1)
    body += kstr(b"legacy")
    r, p = call(port, 8, version, body)
    if r is None:
        print("closed")
        return 1
    print("error=%d" % struct.unpack(">ih", r[p:p + 6])[1])
    return 0


def cmd_offsetfetch(port, group, topic):
    body = kstr(group.encode()) + s32(1) + kstr(topic.encode()) + s32(1) + s32(0)
    r, p = call(port, 9, 0, body)
    if r is None:
        print("closed")
        return 1
    _, off, mlen = struct.unpack(">iqh", r[p:p + 14])
    p += 14 + max(mlen, 0)
    (err,) = struct.unpack(">h", r[p:p + 2])
    print("error=%d offset=%d" % (err, off))
    return 0


def cmd_versions(port):
    s = connect(port)
    s.sendall(request(18, 0, 1, b"", b"legacy_raw"))
    r = read_response(s)
    s.close()
    (n,) = struct.unpack(">i", r[6:10])
    for i in range(n):
        print("%d %d %d" % struct.unpack(">hhh", r[10 + 6 * i:16 + 6 * i]))
    return 0


CMDS = {"versions": cmd_versions, "fetch-wait": cmd_fetch_wait, "produce": cmd_produce, "bad": cmd_bad, "fetch": cmd_fetch,
        "listoffsets": cmd_listoffsets, "commit": cmd_commit, "offsetfetch": cmd_offsetfetch}

if __name__ == "__main__":
    sys.exit(CMDS[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:]))
