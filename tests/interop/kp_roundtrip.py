#!/usr/bin/python3
"""kp_roundtrip.py BOOTSTRAP TOPIC N OUT: kafka-python against kq.

KafkaProducer(acks='all') sends N keyed records and checks every future's
metadata (topic, the Java-compatible partition for the key, offsets unique
and dense per partition from the partition's previous end).  It writes the
acknowledged records as "PARTITION OFFSET KEY VALUE" lines to OUT, so the
caller can compare them with kq-consume.  Then a KafkaConsumer with
assign() + seek(offset) reads back exact values at chosen offsets.
Exit 0 on success, 1 with a message on the first mismatch.
"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2


def die(msg):
    print("kp_roundtrip: " + msg)
    sys.exit(1)


def main():
    bootstrap, topic, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=0,
                         linger_ms=5, request_timeout_ms=15000,
                         max_block_ms=15000)
    parts = sorted(prod.partitions_for(topic) or [])
    if not parts:
        die("no partitions for %r" % topic)
    # Records already in the topic (the caller gives a fresh topic, but be
    # exact about what "dense from the previous end" means).
    cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         group_id=None, consumer_timeout_ms=10000)
    tps = [TopicPartition(topic, p) for p in parts]
    start = cons.end_offsets(tps)
    futs = []
    for i in range(n):
        key = ("key-%d" % (i % 17)).encode()
        val = ("value-%06d" % i).encode()
        futs.append((key, val, prod.send(topic, key=key, value=val)))
    prod.flush(30)
    acked = {}
    next_off = {tp.partition: start[tp] for tp in tps}
    for key, val, f in futs:
        md = f.get(timeout=30)
        if md.topic != topic:
            die("metadata topic %r" % md.topic)
        want_p = (murmur2(key) & 0x7FFFFFFF) % len(parts)
        if md.partition != want_p:
            die("key %r went to partition %d, Java would use %d" % (key, md.partition, want_p))
        # Futures complete in send order within a partition.
        if md.offset != next_off[md.partition]:
            die("partition %d: offset %d, expected %d" % (md.partition, md.offset,
                                                          next_off[md.partition]))
        next_off[md.partition] += 1
        if (md.partition, md.offset) in acked:
            die("duplicate offset %d:%d" % (md.partition, md.offset))
        acked[(md.partition, md.offset)] = (key, val)
    prod.close(10)
    with open(out, "w") as f:
        for (p, o), (k, v) in sorted(acked.items()):
            f.write("%d %d %s %s\n" % (p, o, k.decode(), v.decode()))

    # Read everything back by assignment, then spot-check seek(offset).
    cons.assign(tps)
    for tp in tps:
        cons.seek(tp, start[tp])
    got = {}
    while len(got) < len(acked):
        batch = cons.poll(timeout_ms=5000)
        if not batch:
            die("consumer stalled after %d of %d records" % (len(got), len(acked)))
        for tp, recs in batch.items():
            for r in recs:
                got[(tp.partition, r.offset)] = (r.key, r.value)
    for po, kv in acked.items():
        if got.get(po) != kv:
            die("record %d:%d is %r, acknowledged %r" % (po[0], po[1], got.get(po), kv))
    for (p, o) in sorted(acked)[:: max(1, len(acked) // 7)]:
        tp = TopicPartition(topic, p)
        cons.seek(tp, o)
        recs = []
        for _ in range(5):
            recs = cons.poll(timeout_ms=3000).get(tp, [])
            if recs:
                break
        if not recs or recs[0].offset != o or (recs[0].key, recs[0].value) != acked[(p, o)]:
            die("seek(%d:%d) read %r" % (p, o, [(r.offset, r.value) for r in recs[:1]]))
    cons.close()
    print("kp_roundtrip: %d records acknowledged and read back" % len(acked))


if __name__ == "__main__":
    main()
