#!/usr/bin/python3
"""kp_partitions.py NPARTITIONS < "KEY PARTITION" lines: every key sits in
the partition the Java client (murmur2, as in kafka-python's
DefaultPartitioner) would choose.  Exit 1 naming the first key that does not."""
import sys

from kafka.partitioner.default import murmur2


def main():
    n = int(sys.argv[1])
    seen = 0
    for line in sys.stdin.buffer:
        key, _, part = line.rstrip(b"\n").rpartition(b" ")
        want = (murmur2(key) & 0x7FFFFFFF) % n
        if int(part) != want:
            print("key %r is in partition %s, Java would use %d" % (key, part.decode(), want))
            sys.exit(1)
        seen += 1
    if seen == 0:
        print("no records")
        sys.exit(1)
    print("%d keys placed like the Java client" % seen)


if __name__ == "__main__":
    main()
