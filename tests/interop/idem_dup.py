#!/usr/bin/python3
"""idem_dup.py HOST:PORT TOPIC STATEFILE [resend]: talks to a broker as an
idempotent producer would, by hand (kafka-python has no idempotence and
librdkafka never resends on purpose).  Without 'resend': gets a producer id,
sends batches with sequences 0-1, the same batch again, a sequence gap and
sequences 2-3; prints one line per answer as "err base".  It saves the
producer id and the last batch in STATEFILE; 'resend' sends that batch once
more (after a broker restart) and prints its answer."""
import json
import socket
import struct
import sys

CRC_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    CRC_TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    v = (v << 1) ^ (v >> 63)
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    return struct.pack(">h", len(s)) + s.encode()


def batch(pid, epoch, seq, values):
    recs = b""
    for i, v in enumerate(values):
        body = b"\0" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", 0, len(values) - 1, 1714560000000, 1714560000000,
                             pid, epoch, seq, len(values)) + recs)
    crc = crc32c(after_crc)
    rest = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.corr = 0

    def call(self, api, ver, body):
        self.corr += 1
        frame = struct.pack(">hhi", api, ver, self.corr) + string("idem-dup") + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk
        assert struct.unpack(">i", buf[4:8])[0] == self.corr
        return buf[8:]


def produce(conn, topic, b):
    body = (string(None) + struct.pack(">hi", -1, 10000) + struct.pack(">i", 1) + string(topic) +
            struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(b)) + b)
    r = conn.call(0, 7, body)
    # topics[1]: name, partitions[1]: index, error, base offset
    pos = 4
    n = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + n + 4 + 4
    err, base = struct.unpack(">hq", r[pos:pos + 10])
    print(err, base)


def main():
    addr, topic, state = sys.argv[1:4]
    conn = Conn(addr)
    if len(sys.argv) > 4:
        st = json.load(open(state))
        produce(conn, topic, bytes.fromhex(st["batch"]))
        return
    r = conn.call(22, 1, string(None) + struct.pack(">i", 60000))
    throttle, err, pid, epoch = struct.unpack(">ihqh", r[:16])
    assert err == 0 and pid >= 0 and epoch == 0, (err, pid, epoch)
    first = batch(pid, epoch, 0, [b"a", b"b"])
    produce(conn, topic, first)
    produce(conn, topic, first)                      # duplicate
    produce(conn, topic, batch(pid, epoch, 5, [b"x"]))  # gap
    last = batch(pid, epoch, 2, [b"c", b"d"])
    produce(conn, topic, last)
    json.dump({"batch": last.hex()}, open(state, "w"))


if __name__ == "__main__":
    main()
