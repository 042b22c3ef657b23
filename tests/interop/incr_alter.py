#!/usr/bin/python3
"""incr_alter.py HOST:PORT TOPIC KEY OP VALUE: one IncrementalAlterConfigs v0
request (OP 0 set, 1 delete, 2 append, 3 subtract) for a topic, written by
hand since no Debian client sends APPEND/SUBTRACT.  Prints the error code and
message of the answer."""
import socket
import struct
import sys


def s16(v):
    return struct.pack(">h", v)


def string(v):
    if v is None:
        return s16(-1)
    b = v.encode()
    return s16(len(b)) + b


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    topic, key, op, value = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    body = (struct.pack(">i", 1) + struct.pack(">b", 2) + string(topic) +
            struct.pack(">i", 1) + string(key) + struct.pack(">b", op) + string(value) +
            struct.pack(">b", 0))
    head = s16(44) + s16(0) + struct.pack(">i", 7) + string("incr-alter")
    frame = head + body
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
    r = buf[4:]
    assert struct.unpack(">i", r[:4])[0] == 7
    pos = 4 + 4 + 4  # correlation id, throttle time, array count
    err = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2
    n = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2
    msg = r[pos:pos + n].decode() if n >= 0 else ""
    print(err, msg)


if __name__ == "__main__":
    main()
