#!/usr/bin/python3
"""ck_roundtrip.py BOOTSTRAP TOPIC N [CODEC]: python3-confluent-kafka
(librdkafka) Producer with acks=all and delivery reports, then a Consumer
with assign() from the beginning; every acknowledged record is read back
with its key and value at its offset.  Exit 0 on success, 1 otherwise."""
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def die(msg):
    print("ck_roundtrip: " + msg)
    sys.exit(1)


def main():
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    codec = sys.argv[4] if len(sys.argv) > 4 else "none"
    acked = {}
    failed = []

    def report(err, msg):
        if err is not None:
            failed.append(str(err))
            return
        po = (msg.partition(), msg.offset())
        if po in acked:
            failed.append("duplicate offset %r" % (po,))
        acked[po] = (msg.key(), msg.value())

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                  "compression.codec": codec, "linger.ms": 5,
                  "message.timeout.ms": 20000, "api.version.request": True})
    for i in range(n):
        p.produce(topic, key=("ck-%d" % (i % 11)).encode(),
                  value=("ck-value-%06d" % i).encode(), on_delivery=report)
        p.poll(0)
    left = p.flush(30)
    if left or failed:
        die("%d undelivered, errors: %r" % (left, failed[:5]))
    if len(acked) != n:
        die("%d of %d acknowledged" % (len(acked), n))
    parts = sorted({po[0] for po in acked})
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ck-roundtrip",
                  "enable.auto.commit": False, "check.crcs": True,
                  "enable.partition.eof": False})
    c.assign([TopicPartition(topic, q, OFFSET_BEGINNING) for q in parts])
    got = {}
    missing = set(acked)
    idle = 0
    # The topic may hold earlier records: read until every acknowledged
    # position has been seen.
    while missing and idle < 10:
        m = c.poll(1.0)
        if m is None:
            idle += 1
            continue
        if m.error():
            die("consumer error: %s" % m.error())
        po = (m.partition(), m.offset())
        got[po] = (m.key(), m.value())
        missing.discard(po)
    c.close()
    for po, kv in acked.items():
        if got.get(po) != kv:
            die("record %r is %r, acknowledged %r" % (po, got.get(po), kv))
    print("ck_roundtrip: %d records (%s) acknowledged and read back" % (n, codec))


if __name__ == "__main__":
    main()
