"""Connection-level load for tests/bats/52-loop.bats, with raw sockets.

  loop_conns.py limit PORT HOLD EXTRA FREE
      Hold HOLD idle connections (the broker's max.connections), check each
      is served, open EXTRA more and check each is refused, close FREE of the
      held ones and time a new client's ApiVersions.  Prints "held N",
      "syn retransmits N" (held connections whose SYN was sent again),
      "refused N", "probe answered in MS ms".
  loop_conns.py slowloris PORT SLOW SECONDS
      SLOW connections each send a request one byte every 200 ms while a new
      client probes with ApiVersions every 200 ms; stops when every slow
      connection was closed or after SECONDS.  Prints "slow closed N after
      MIN..MAX ms", "probes N worst MS ms".
  loop_conns.py pieces PORT GAP_MS
      One request sent in two pieces GAP_MS apart, on a connection that first
      sat idle for GAP_MS; prints "answered".

Every wait is bounded (a probe that gets no answer in 5 s fails the run),
so a stalled broker fails instead of hanging.  Source addresses are spread
over 127.0.0.0/8 so 10,000 connections never run out of local ports.
"""
import socket
import struct
import sys
import time

PROBE_TIMEOUT = 5.0


def src(i):
    return "127.%d.%d.%d" % (100 + i // 62500 % 100, i // 250 % 250 + 1, i % 250 + 1)


def connect(port, i, timeout=PROBE_TIMEOUT):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src(i), 0))
    s.connect(("127.0.0.1", port))
    return s


def retransmitted(s):
    """Segments this socket sent again (tcpi_total_retrans): a SYN dropped
    because the listener's accept queue was full shows here."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 100)[0]


def api_versions(corr):
    cid = b"loop-test"
    body = struct.pack(">hhih", 18, 0, corr, len(cid)) + cid
    return struct.pack(">i", len(body)) + body


def read_answer(s, corr):
    """The whole ApiVersions answer, or None on EOF/reset."""
    buf = b""
    try:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            d = s.recv(65536)
            if not d:
                return None
            buf += d
    except (ConnectionResetError, BrokenPipeError):
        return None
    if struct.unpack(">i", buf[4:8])[0] != corr:
        raise SystemExit("answer with the wrong correlation id")
    return buf


def ms_since(t):
    return int((time.monotonic() - t) * 1000)


def probe(port, i):
    """Time one new client's ApiVersions: connect, ask, read the answer."""
    t = time.monotonic()
    s = connect(port, i)
    try:
        s.sendall(api_versions(i))
        if read_answer(s, i) is None:
            return None
    finally:
        s.close()
    return ms_since(t)


def limit(port, hold, extra, free):
    held = []
    for i in range(hold):
        held.append(connect(port, i))
    again = sum(1 for s in held if retransmitted(s) > 0)
    # Every held connection is served, so all of them count against the limit.
    for i, s in enumerate(held):
        s.sendall(api_versions(i))
    for i, s in enumerate(held):
        if read_answer(s, i) is None:
            raise SystemExit("held connection %d was closed" % i)
    print("held %d" % len(held), flush=True)
    print("syn retransmits %d" % again, flush=True)
    refused = 0
    for j in range(extra):
        s = connect(port, hold + j)
        try:
            s.sendall(api_versions(j))
        except (ConnectionResetError, BrokenPipeError):
            pass
        if read_answer(s, j) is None:
            refused += 1
        s.close()
    print("refused %d" % refused, flush=True)
    for s in held[:free]:
        s.close()
    # The broker learns of the closes as it reads them: a probe that comes
    # first is refused; retry until one is served, within the probe timeout.
    t = time.monotonic()
    n = hold + extra
    while True:
        if probe(port, n) is not None:
            break
        n += 1
        if time.monotonic() - t > PROBE_TIMEOUT:
            raise SystemExit("no client served within %.0f s of freeing %d slots"
                             % (PROBE_TIMEOUT, free))
        time.sleep(0.01)
    print("probe answered in %d ms" % ms_since(t), flush=True)
    for s in held[free:]:
        s.close()


def slowloris(port, nslow, seconds):
    frame = api_versions(1)
    slow = [connect(port, i) for i in range(nslow)]
    for s in slow:
        s.setblocking(False)
    pos = [0] * nslow
    first = [None] * nslow
    closed = {}
    nprobe, worst, k = 0, 0, nslow
    t0 = time.monotonic()
    while len(closed) < nslow and time.monotonic() - t0 < seconds:
        for i, s in enumerate(slow):
            if i in closed:
                continue
            try:
                d = s.recv(4096)
                if d:
                    raise SystemExit("slow connection %d was answered" % i)
                closed[i] = ms_since(first[i])
                continue
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed[i] = ms_since(first[i])
                continue
            # Never the last byte: the request stays incomplete.
            if pos[i] < len(frame) - 1:
                try:
                    s.send(frame[pos[i]:pos[i] + 1])
                except (ConnectionResetError, BrokenPipeError):
                    closed[i] = ms_since(first[i])
                    continue
                if first[i] is None:
                    first[i] = time.monotonic()
                pos[i] += 1
        took = probe(port, k)
        k += 1
        if took is None:
            raise SystemExit("probe %d was closed" % nprobe)
        nprobe += 1
        worst = max(worst, took)
        time.sleep(0.2)
    if len(closed) < nslow:
        raise SystemExit("%d of %d slow connections still open after %.0f s"
                         % (nslow - len(closed), nslow, seconds))
    print("slow closed %d after %d..%d ms" % (len(closed), min(closed.values()),
                                              max(closed.values())), flush=True)
    print("probes %d worst %d ms" % (nprobe, worst), flush=True)


def pieces(port, gap_ms):
    s = connect(port, 0)
    frame = api_versions(3)
    time.sleep(gap_ms / 1000.0)
    s.sendall(frame[:7])
    time.sleep(gap_ms / 1000.0)
    s.sendall(frame[7:])
    if read_answer(s, 3) is None:
        raise SystemExit("closed before the request was whole")
    print("answered", flush=True)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = [int(a) for a in sys.argv[3:]]
    {"limit": limit, "slowloris": slowloris, "pieces": pieces}[cmd](port, *args)


if __name__ == "__main__":
    main()
