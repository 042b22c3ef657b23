#!/usr/bin/python3
"""kp_legacy.py PORT TOPIC API_VERSION N CODEC: kafka-python pinned to an old
api_version ("0.9" or "0.10.1": Produce v1/v2 with MessageSet v0/v1, Fetch
v1/v3, ListOffsets v0/v1, OffsetCommit v2) produces N keyed messages with
CODEC (none|gzip), consumes them back in group "g-TOPIC" from the earliest
offset, commits, and reads the commit back with a second consumer.
Prints "ok N committed=N" or names the first difference and exits 1.
"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main():
    port, topic, ver, n, codec = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), \
        sys.argv[5]
    api = tuple(int(x) for x in ver.split("."))
    boot = "127.0.0.1:" + port
    prod = KafkaProducer(bootstrap_servers=boot, api_version=api,
                         compression_type=None if codec == "none" else codec)
    want = [(("k%d" % i).encode(), ("%s-value-%d" % (ver, i)).encode() * (1 + i % 3))
            for i in range(n)]
    for k, v in want:
        prod.send(topic, key=k, value=v, partition=0)
    prod.flush(30)
    prod.close()

    group = "g-" + topic
    cons = KafkaConsumer(bootstrap_servers=boot, api_version=api, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         consumer_timeout_ms=20000)
    cons.subscribe([topic])
    got = []
    for m in cons:
        got.append((m.offset, m.key, m.value))
        if len(got) == n:
            break
    cons.commit()
    cons.close()
    for i, (k, v) in enumerate(want):
        if i >= len(got) or got[i] != (i, k, v):
            print("message %d: got %r, want %r" % (i, got[i] if i < len(got) else None,
                                                   (i, k, v)))
            return 1
    check = KafkaConsumer(bootstrap_servers=boot, api_version=api, group_id=group,
                          enable_auto_commit=False)
    committed = check.committed(TopicPartition(topic, 0))
    check.close()
    print("ok %d committed=%s" % (len(got), committed))
    return 0 if committed == n else 1


if __name__ == "__main__":
    sys.exit(main())
