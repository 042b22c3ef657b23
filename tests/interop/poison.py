#!/usr/bin/python3
"""poison.py HOST:PORT TOPIC: poison batches against a broker (issue 9).

TOPIC must exist with 2 partitions and be empty.  Partition 0 gets two good
records, then every poison batch below, each in one Produce v7 request
that also carries one good record for partition 1 and must be appended.  A
line per case: "CASE p0=ERR (want W) p1=ERR".  Then ListOffsets must show
partition 0's end offset unchanged by the poison (only the good cases
count) and partition 1's grown by one per request; the last line is
"end P0 P1" (the records a consumer must read).  Exit 1 on any mismatch.

Batches are built here, CRC-32C and all (crc32c and varint from
idem_dup.py); gzip with zlib, lz4 and zstd with the lz4(1) and zstd(1)
programs (Debian's lz4 and zstd), snappy by hand (literals, xerial frames).
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idem_dup import Conn, crc32c, string, varint  # noqa: E402

NONE, GZIP, SNAPPY, LZ4, ZSTD = range(5)
CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD = 2, 10, 87
MIB = 1 << 20
BOMB = 66 * MIB          # past the broker's 64 MiB inflate cap
XERIAL = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)


def record(i, value, key=None, headers=b"\x00"):
    """One record: headers is the raw header section (count included)."""
    k = varint(-1) if key is None else varint(len(key)) + key
    body = b"\x00" + varint(0) + varint(i) + k + varint(len(value)) + value + headers
    return varint(len(body)) + body


def raw(body):
    """A record from its body bytes, however malformed."""
    return varint(len(body)) + body


def good(n, tag):
    return b"".join(record(i, b"%s-%d" % (tag, i)) for i in range(n))


def batch(codec, payload, count):
    """A v2 batch whose records section (after codec) is payload."""
    after_crc = (struct.pack(">hiqqqhii", codec, count - 1, 1714560000000, 1714560000000,
                             -1, -1, -1, count) + payload)
    rest = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def tool(argv, chunks):
    """Run lz4/zstd over the byte chunks (a generator), return stdout."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out)
        for c in chunks:
            p.stdin.write(c)
        p.stdin.close()
        if p.wait() != 0:
            sys.exit("%s failed" % argv[0])
        out.seek(0)
        return out.read()


def compress(codec, chunks):
    if codec == GZIP:
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        return b"".join(z.compress(c) for c in chunks) + z.flush()
    if codec == LZ4:
        return tool(["lz4", "-q", "-c"], chunks)
    if codec == ZSTD:
        return tool(["zstd", "-q", "-c"], chunks)
    if codec == SNAPPY:
        data = b"".join(chunks)
        v, n = b"", len(data)
        while True:
            v += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                break
        return v + b"\xfc" + struct.pack("<I", len(data) - 1) + data
    return b"".join(chunks)


def bomb_chunks(size):
    """One record whose value is size zero bytes, streamed."""
    body_len = 1 + 1 + 1 + 1 + len(varint(size)) + size + 1
    yield varint(body_len) + b"\x00" + varint(0) + varint(0) + varint(-1) + varint(size)
    zeros = bytes(MIB)
    for _ in range(size // MIB):
        yield zeros
    yield bytes(size % MIB) + b"\x00"


def cut(b):
    return b[:len(b) // 2]


def cases():
    """(name, batch, wanted error, records it adds when accepted)"""
    two = good(2, b"g")
    out = [
        ("headers-2^31-1", batch(NONE, record(0, b"v", headers=varint(2**31 - 1)), 1),
         INVALID_RECORD),
        ("headers--5", batch(NONE, record(0, b"v", headers=varint(-5)), 1), INVALID_RECORD),
        ("key-past-end", batch(NONE, raw(b"\x00\x00\x00" + varint(100) + b"abc"), 1),
         INVALID_RECORD),
        ("value-length--5", batch(NONE, raw(b"\x00\x00\x00\x01" + varint(-5) + b"\x00"), 1),
         INVALID_RECORD),
        ("varint-6-bytes", batch(NONE, b"\x80\x80\x80\x80\x80\x00" + bytes(10), 1),
         INVALID_RECORD),
        ("count-3-of-2", batch(NONE, two, 3), INVALID_RECORD),
        ("count-1-of-2", batch(NONE, two, 1), INVALID_RECORD),
        ("gzip-bomb-66MiB", batch(GZIP, compress(GZIP, bomb_chunks(BOMB)), 1),
         MESSAGE_TOO_LARGE),
        ("lz4-bomb-66MiB", batch(LZ4, compress(LZ4, bomb_chunks(BOMB)), 1), MESSAGE_TOO_LARGE),
        ("zstd-bomb-66MiB", batch(ZSTD, compress(ZSTD, bomb_chunks(BOMB)), 1),
         MESSAGE_TOO_LARGE),
        ("snappy-claims-4GiB", batch(SNAPPY, b"\xff\xff\xff\xff\x0f" + bytes(20), 1),
         MESSAGE_TOO_LARGE),
        ("gzip-garbage", batch(GZIP, b"\x1f\x8b\x08\x00" + bytes(40), 2), CORRUPT_MESSAGE),
        ("gzip-cut", batch(GZIP, cut(compress(GZIP, [two])), 2), CORRUPT_MESSAGE),
        ("lz4-garbage", batch(LZ4, b"\x04\x22\x4d\x18" + b"garbage" * 5, 2), CORRUPT_MESSAGE),
        ("lz4-cut", batch(LZ4, cut(compress(LZ4, [two])), 2), CORRUPT_MESSAGE),
        ("zstd-garbage", batch(ZSTD, b"\x28\xb5\x2f\xfd" + b"garbage" * 5, 2), CORRUPT_MESSAGE),
        ("zstd-cut", batch(ZSTD, cut(compress(ZSTD, [two])), 2), CORRUPT_MESSAGE),
        ("snappy-raw-garbage", batch(SNAPPY, b"\x64" + b"\x02\x10\x00" * 8, 2),
         CORRUPT_MESSAGE),
        ("snappy-xerial-garbage",
         batch(SNAPPY, XERIAL + struct.pack(">i", 0x7FFFFFF0) + b"garbage", 2), CORRUPT_MESSAGE),
        ("snappy-xerial-bad-block",
         batch(SNAPPY, XERIAL + struct.pack(">i", 12) + b"\x40garbage-gar", 2), CORRUPT_MESSAGE),
        ("gzip-headers--5",
         batch(GZIP, compress(GZIP, [record(0, b"v", headers=varint(-5))]), 1), INVALID_RECORD),
        ("lz4-count-3-of-2", batch(LZ4, compress(LZ4, [two]), 3), INVALID_RECORD),
        ("zstd-trailing-bytes", batch(ZSTD, compress(ZSTD, [two, b"\x00"]), 2), INVALID_RECORD),
        ("snappy-key-past-end",
         batch(SNAPPY, compress(SNAPPY, [raw(b"\x00\x00\x00" + varint(100) + b"abc")]), 1),
         INVALID_RECORD),
        ("xerial-headers-2^31-1",
         batch(SNAPPY, XERIAL + (lambda c: struct.pack(">i", len(c)) + c)(
             compress(SNAPPY, [record(0, b"v", headers=varint(2**31 - 1))])), 1),
         INVALID_RECORD),
    ]
    # Controls: good compressed batches are still taken, including one that
    # inflates past max.message.bytes (1 MiB) but not past the cap.
    for name, codec in (("gzip", GZIP), ("snappy", SNAPPY), ("lz4", LZ4), ("zstd", ZSTD)):
        out.append(("good-" + name, batch(codec, compress(codec, [good(3, name.encode())]), 3), 0))
    out.append(("good-zstd-3MiB-record",
                batch(ZSTD, compress(ZSTD, [record(0, b"x" * (3 * MIB))]), 1), 0))
    return out


def produce(conn, topic, parts):
    """parts: [(partition, batch)] in one request; returns {partition: err}."""
    body = string(None) + struct.pack(">hii", -1, 30000, 1) + string(topic)
    body += struct.pack(">i", len(parts))
    for p, b in parts:
        body += struct.pack(">ii", p, len(b)) + b
    r = conn.call(0, 7, body)
    pos = 4
    n = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + n
    (count,) = struct.unpack(">i", r[pos:pos + 4])
    pos += 4
    errs = {}
    for _ in range(count):
        p, err = struct.unpack(">ih", r[pos:pos + 6])
        errs[p] = err
        pos += 6 + 8 + 8 + 8
    return errs


def end_offsets(conn, topic):
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", 2)
    body += struct.pack(">iq", 0, -1) + struct.pack(">iq", 1, -1)
    r = conn.call(2, 1, body)
    pos = 4
    n = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + n + 4
    ends = {}
    for _ in range(2):
        p, err, _ts, off = struct.unpack(">ihqq", r[pos:pos + 22])
        assert err == 0, err
        ends[p] = off
        pos += 22
    return ends


def main():
    addr, topic = sys.argv[1:3]
    conn = Conn(addr)
    bad = 0
    errs = produce(conn, topic, [(0, batch(NONE, good(2, b"first"), 2)),
                                 (1, batch(NONE, good(1, b"first"), 1))])
    if errs != {0: 0, 1: 0}:
        sys.exit("good batches refused: %r" % errs)
    want0, want1 = 2, 1
    for i, (name, b, want) in enumerate(cases()):
        ends = end_offsets(conn, topic)
        parts = [(0, b), (1, batch(NONE, good(1, name.encode()), 1))]
        errs = produce(conn, topic, parts[::-1] if i % 2 else parts)
        ok = errs.get(0) == want and errs.get(1) == 0
        print("%s p0=%s (want %d) p1=%s%s" % (name, errs.get(0), want, errs.get(1),
                                               "" if ok else "  MISMATCH"))
        bad += not ok
        if want == 0:
            want0 += struct.unpack(">i", b[57:61])[0]
        want1 += 1
        after = end_offsets(conn, topic)
        if errs.get(0) != 0 and after[0] != ends[0]:
            print("%s: partition 0 end offset moved %d -> %d  MISMATCH" % (name, ends[0], after[0]))
            bad += 1
    ends = end_offsets(conn, topic)
    if ends != {0: want0, 1: want1}:
        print("end offsets %r, want {0: %d, 1: %d}  MISMATCH" % (ends, want0, want1))
        bad += 1
    print("end %d %d" % (ends[0], ends[1]))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
