#!/usr/bin/python3
"""badinput.py: hostile bytes against a kq broker on 127.0.0.1 (stdlib only).

  badinput.py PORT frame CASE   send one bad input; the broker must refuse it
                                as Kafka does within 5 s (exit 0), else exit 1:
                                close the connection, or for the cases in
                                ANSWERS answer with that error code and serve
                                on over the same connection.  CASE: see CASES.
  badinput.py PORT fuzz N SEED  N connections with framed random bodies (api
                                keys and versions in range); only requires
                                that every connect succeeds.
  badinput.py PORT hold N SIZE  open N connections that announce SIZE-byte
                                frames and send 10 bytes; print "held N" and
                                keep them open until stdin closes.
  badinput.py PORT names TAG OUT  send 200+ invalid topic names through
                                CreateTopics v0 and Metadata v1 (auto-create);
                                every one must be answered with
                                INVALID_TOPIC_EXCEPTION (17); writes the names
                                (repr, one a line) to OUT.  Also creates the
                                valid controls "a"*249 and "auto-ok-TAG".
"""
import os
import random
import socket
import struct
import sys
import time

HOST = "127.0.0.1"


def s16(v):
    return struct.pack(">h", v)


def s32(v):
    return struct.pack(">i", v)


def kstr(b):
    if b is None:
        return s16(-1)
    return s16(len(b)) + b


def request(api, ver, corr, body, client=b"badinput"):
    msg = s16(api) + s16(ver) + s32(corr) + kstr(client) + body
    return s32(len(msg)) + msg


def connect(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_response(s):
    """Return the response body (after the size prefix), or None on close."""
    head = recv_exact(s, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">i", head)
    if n < 4 or n > 64 << 20:
        raise ValueError("broker sent a frame of size %d" % n)
    return recv_exact(s, n)


def outcome(s, deadline=5.0):
    """'closed', 'answered' or 'hung' after sending a bad input."""
    s.settimeout(deadline)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return "hung"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    return "answered" if data else "closed"


def send_all(s, data):
    try:
        s.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the broker already closed: that is an allowed outcome


CASES = {
    # Size prefixes: 2 GiB, negative, -1, zero, shorter than a header.
    "size-max": s32(0x7FFFFFFF) + b"\x00\x03\x00\x01abcd",
    "size-neg": s32(-2147483648) + b"\x00\x03\x00\x01abcd",
    "size-minus1": s32(-1) + b"abcd",
    "size-zero": s32(0) + s32(0),
    "size-short": s32(3) + b"\x00\x12\x00",
    "size-over-100mib": s32(100 * 1024 * 1024 + 1) + b"\x00\x12\x00\x00",
    # Wrong protocols on the port.
    "http": b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: badinput\r\n\r\n",
    "tls": bytes.fromhex("16030100f5010000f10303") + os.urandom(32) + b"\x00" * 40,
    # Count bombs: valid headers, arrays claiming 2^31-1 elements.
    "count-metadata-v1": request(3, 1, 11, s32(0x7FFFFFFF) + b"\x00\x01x"),
    "count-metadata-v4": request(3, 4, 12, s32(0x7FFFFFFF) + b"\x00\x01x\x01"),
    "count-metadata-neg": request(3, 4, 13, s32(-2) + b"\x01"),
    "count-produce-v3": request(0, 3, 14, s16(-1) + s16(-1) + s32(1000) + s32(0x7FFFFFFF)
                                + b"\x00\x01t"),
    "count-produce-records": request(0, 3, 15, s16(-1) + s16(-1) + s32(1000) + s32(1)
                                     + kstr(b"t") + s32(1) + s32(0) + s32(0x7FFFFFFF)
                                     + b"\x00" * 12),
    "count-createtopics": request(19, 0, 16, s32(0x7FFFFFFF) + kstr(b"t") + b"\x00" * 6),
    "count-string": request(3, 1, 17, s32(1) + s16(0x7FFF) + b"abc"),
    "count-fetch": request(1, 4, 18, s32(-1) + s32(100) + s32(1) + s32(1 << 20) + b"\x00"
                           + s32(0x7FFFFFFF) + b"\x00"),
    "count-apiversions-clientid": s32(10) + s16(18) + s16(0) + s32(19) + s16(0x7FFF),
    # Unknown API key and unsupported versions.
    "unknown-api": request(999, 0, 20, b""),
    "bad-version": request(3, 999, 21, s32(-1)),
    "apiversions-v999": request(18, 999, 22, b""),
    # Random bytes with a plausible small size.
    "garbage": s32(64) + random.Random(7).randbytes(64),
    "garbage-stream": random.Random(8).randbytes(4096),
}


# Cases Kafka answers (correlation id, error code of the first field) and
# keeps the connection open after: an ApiVersions version it does not know
# gets UNSUPPORTED_VERSION (35) in a v0 response, so the client can retry
# with a version from the list.  Every other case closes the connection
# (Kafka's InvalidReceiveException or InvalidRequestException).
ANSWERS = {
    "apiversions-v999": (22, 35),
}


def answered_as(s, case, corr, err):
    """The answer to a refused request carries err; the connection serves on."""
    try:
        body = read_response(s)
    except (OSError, ValueError) as e:
        print("%s: no answer (%s)" % (case, e))
        return 1
    if body is None or len(body) < 6:
        print("%s: closed, want an answer with error %d" % (case, err))
        return 1
    got_corr, got_err = struct.unpack(">ih", body[:6])
    if (got_corr, got_err) != (corr, err):
        print("%s: answered correlation id %d error %d, want %d and %d"
              % (case, got_corr, got_err, corr, err))
        return 1
    s.sendall(request(18, 0, 4243, b""))
    body = read_response(s)
    if body is None or struct.unpack(">ih", body[:6]) != (4243, 0):
        print("%s: the connection did not serve on: %r" % (case, body[:16] if body else body))
        return 1
    print("%s: answered with error %d" % (case, err))
    return 0


def check_frame(port, case):
    if case == "apiversions":
        s = connect(port)
        s.sendall(request(18, 0, 4242, b""))
        body = read_response(s)
        s.close()
        if body is None or struct.unpack(">i", body[:4])[0] != 4242:
            print("ApiVersions v0: no proper answer: %r" % (body[:16] if body else body,))
            return 1
        (err,) = struct.unpack(">h", body[4:6])
        if err != 0:
            print("ApiVersions v0: error %d" % err)
            return 1
        print("apiversions: answered")
        return 0
    data = CASES[case]
    s = connect(port)
    send_all(s, data)
    if case in ANSWERS:
        rc = answered_as(s, case, *ANSWERS[case])
        s.close()
        return rc
    res = outcome(s)
    s.close()
    print("%s: %s%s" % (case, res, "" if res == "closed" else ", want closed"))
    return 0 if res == "closed" else 1


def fuzz(port, n, seed):
    rnd = random.Random(seed)
    outcomes = {}
    for i in range(n):
        api = rnd.choice([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 32, 37,
                          rnd.randrange(0, 100)])
        ver = rnd.randrange(0, 12)
        body = rnd.randbytes(rnd.randrange(0, 300))
        if rnd.random() < 0.5:
            # A valid-looking array count in front of the garbage.
            body = s32(rnd.choice([0, 1, 2, 0x7FFFFFFF, -1, -5, 1 << 20])) + body
        data = request(api, ver, i, body, client=rnd.choice([None, b"", b"fuzz"]))
        cut = rnd.random() < 0.2
        if cut:
            # Cut the frame short and half-close: the broker sees EOF.
            data = data[: rnd.randrange(1, len(data))]
        try:
            s = connect(port)
        except OSError as e:
            print("fuzz: connection %d refused (%s): broker down?" % (i, e))
            return 1
        send_all(s, data)
        if cut:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        res = outcome(s, 0.3)
        outcomes[res] = outcomes.get(res, 0) + 1
        s.close()
    print("fuzz: %d connections: %r" % (n, outcomes))
    return 0


def hold(port, n, size):
    socks = []
    for _ in range(n):
        s = connect(port)
        send_all(s, s32(size) + b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
        socks.append(s)
    print("held %d" % n, flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()
    return 0


def bad_names(tag):
    names = [
        b"", b".", b"..", b"../x", b"../../x", b"../../../x", b"./x", b"x/..", b"a/b",
        b"/abs", b"a\\b", b"..\\x", b"%2e%2e", b"%2e%2e%2fx", b"a b", b" lead",
        b"trail ", b"a,b", b"~", b"$HOME", b"`id`", b"*", b"?", b"a:b",
        ("../../../../../../../../../../tmp/kqevil-%s" % tag).encode(),
        ("/tmp/kqevil-%s-abs" % tag).encode(),
        ("$(touch /tmp/kqevil-%s-cmd)" % tag).encode(),
        ("..%%2f..%%2ftmp%%2fkqevil-%s" % tag).encode(),
        b"nul\x00../x", b"\x00", b"a\x00b",
        b"x" * 250, b"y" * 300, b"z" * 1000, b"a" * 249 + b"/",
        b"\xff\xfe", b"a\x80b", b"\xc0\xae\xc0\xae", b"\xed\xa0\x80",
        "t\u00f3pico".encode(), "\u65e5\u672c\u8a9e".encode(), "emoji\U0001F600".encode(),
        "a\u2215b".encode(), "a\u2024b".encode(), "\uff41".encode(), "zero\u200bwidth".encode(),
        "rtl\u202ename".encode(), "\u00a0nbsp".encode(), "\u2025".encode(),
    ]
    names += [b"ctl" + bytes([c]) + b"x" for c in list(range(1, 32)) + [127]]
    allowed = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    for c in range(33, 127):
        if c not in allowed:
            names.append(b"p" + bytes([c]) + b"q")
            names.append(bytes([c]))
    names += [("u" + chr(c)).encode() for c in range(0xA0, 0x100)]
    seen = set()
    out = []
    for nm in names:
        if nm not in seen:
            seen.add(nm)
            out.append(nm)
    return out


def create_topics_v0(s, corr, names):
    body = s32(len(names))
    for nm in names:
        body += kstr(nm) + s32(1) + s16(1) + s32(0) + s32(0)
    body += s32(10000)
    s.sendall(request(19, 0, corr, body))
    resp = read_response(s)
    if resp is None:
        return None
    pos = 4
    (cnt,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    res = []
    for _ in range(cnt):
        (ln,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        nm = resp[pos:pos + ln]
        pos += ln
        (err,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        res.append((nm, err))
    return res


def metadata_v1(s, corr, names):
    body = s32(len(names)) + b"".join(kstr(nm) for nm in names)
    s.sendall(request(3, 1, corr, body))
    resp = read_response(s)
    if resp is None:
        return None
    pos = 4
    (nb,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    for _ in range(nb):
        pos += 4
        (ln,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + ln + 4
        (ln,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + max(ln, 0)
    pos += 4  # controller id
    (nt,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    res = []
    for _ in range(nt):
        (err,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        (ln,) = struct.unpack_from(">h", resp, pos)
        pos += 2
        nm = resp[pos:pos + ln]
        pos += ln + 1  # is_internal
        (np_,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(np_):
            pos += 2 + 4 + 4
            for _arr in range(2):
                (k,) = struct.unpack_from(">i", resp, pos)
                pos += 4 + 4 * max(k, 0)
        res.append((nm, err))
    return res


def names(port, tag, outpath):
    bad = bad_names(tag)
    with open(outpath, "w") as f:
        for nm in bad:
            f.write(repr(nm) + "\n")
    problems = []
    corr = 100
    s = connect(port)
    s.settimeout(15)
    # One name per request, so that one refusal cannot hide another.
    for nm in bad:
        corr += 1
        try:
            res = create_topics_v0(s, corr, [nm])
        except OSError as e:
            res = None
            problems.append("CreateTopics %r: %s" % (nm, e))
        if res is None:
            # Kafka answers; a closed connection tells the client nothing.
            problems.append("CreateTopics %r: connection closed (want INVALID_TOPIC_EXCEPTION 17)"
                            % (nm,))
            s.close()
            s = connect(port)
            s.settimeout(15)
            continue
        if len(res) != 1 or res[0][1] != 17:
            problems.append("CreateTopics %r -> %r (want INVALID_TOPIC_EXCEPTION 17)" % (nm, res))
    for nm in bad:
        corr += 1
        try:
            res = metadata_v1(s, corr, [nm])
        except OSError as e:
            res = None
            problems.append("Metadata %r: %s" % (nm, e))
        if res is None:
            problems.append("Metadata %r: connection closed (want INVALID_TOPIC_EXCEPTION 17)"
                            % (nm,))
            s.close()
            s = connect(port)
            s.settimeout(15)
            continue
        if len(res) != 1 or res[0][1] != 17:
            problems.append("Metadata v1 (auto-create) %r -> %r (want INVALID_TOPIC_EXCEPTION 17)"
                            % (nm, res))
    # Controls: a 249-character name and an auto-created topic are fine.
    corr += 1
    res = create_topics_v0(s, corr, [b"a" * 249])
    if res != [(b"a" * 249, 0)]:
        problems.append("CreateTopics of a valid 249-char name -> %r" % (res,))
    auto = ("auto-ok-%s" % tag).encode()
    for _ in range(20):
        corr += 1
        res = metadata_v1(s, corr, [auto])
        if res and res[0][1] == 0:
            break
        time.sleep(0.1)
    else:
        problems.append("Metadata auto-create of %r never succeeded: %r" % (auto, res))
    s.close()
    print("names: %d invalid names tried" % len(bad))
    for p in problems[:40]:
        print(p)
    if len(problems) > 40:
        print("... %d problems in all" % len(problems))
    return 1 if problems else 0


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    if mode == "frame":
        return check_frame(port, sys.argv[3])
    if mode == "fuzz":
        return fuzz(port, int(sys.argv[3]), int(sys.argv[4]))
    if mode == "hold":
        return hold(port, int(sys.argv[3]), int(sys.argv[4]))
    if mode == "names":
        return names(port, sys.argv[3], sys.argv[4])
    if mode == "list":
        print("\n".join(["apiversions"] + sorted(CASES)))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
