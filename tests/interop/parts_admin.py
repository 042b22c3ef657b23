#!/usr/bin/python3
"""parts_admin.py PORT [--starve PID] create TOPIC:N [TOPIC:N ...]
   parts_admin.py PORT [--starve PID] grow TOPIC COUNT

One CreateTopics v1 request for all the topics named (N partitions each),
or one CreatePartitions v0 request growing TOPIC to COUNT partitions, on
one connection.  Prints one line per topic of the response:
"TOPIC error=E message=TEXT" and exits 0 (1 if the broker did not answer).

With --starve PID (the broker's), the broker has no free file descriptor
while it handles the request: its RLIMIT_NOFILE (soft) is lowered to its
lowest free descriptor, then restored, as fetch_raw.py does.
"""
import os
import resource
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from badinput import connect, kstr, read_response, request, s16, s32  # noqa: E402


def create_v1(topics):
    body = s32(len(topics))
    for name, n in topics:
        body += kstr(name) + s32(n) + s16(1) + s32(0) + s32(0)  # rf 1, no assignments, no configs
    body += s32(30000) + b"\0"                                    # timeout, validate_only
    return request(19, 1, 1, body, b"parts_admin")


def grow_v0(topic, count):
    body = s32(1) + kstr(topic) + s32(count) + s32(-1) + s32(30000) + b"\0"
    return request(37, 0, 1, body, b"parts_admin")


class Reader:
    def __init__(self, b):
        self.b, self.at = b, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.b, self.at)
        self.at += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.at:self.at + n].decode()
        self.at += n
        return s


def main():
    args = sys.argv[1:]
    port = int(args.pop(0))
    pid = None
    if args[0] == "--starve":
        args.pop(0)
        pid = int(args.pop(0))
    what = args.pop(0)
    if what == "create":
        req = create_v1([(a.rsplit(":", 1)[0].encode(), int(a.rsplit(":", 1)[1])) for a in args])
    else:
        req = grow_v0(args[0].encode(), int(args[1]))
    s = connect(port)
    s.settimeout(60)
    s.sendall(request(18, 0, 0, b"", b"parts_admin"))  # ApiVersions: the connection is accepted
    read_response(s)
    if pid is not None:
        used = set(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))
        free = min(set(range(len(used) + 1)) - used)
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (free, old[1]))
        try:
            s.sendall(req)
            resp = read_response(s)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    else:
        s.sendall(req)
        resp = read_response(s)
    if resp is None:
        print("no answer")
        return 1
    r = Reader(resp)
    r.take(">i")                      # correlation id
    if what == "grow":
        r.take(">i")                  # throttle_time_ms
    for _ in range(r.take(">i")):
        name = r.string()
        err = r.take(">h")
        msg = r.string()
        print("%s error=%d message=%s" % (name, err, msg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
