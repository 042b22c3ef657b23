#!/usr/bin/python3
"""kp_consume.py BOOTSTRAP TOPIC: print every record of TOPIC as
"PARTITION OFFSET KEY VALUE" (null printed as "-"), read with kafka-python
assign() + seek_to_beginning() up to the end offsets sampled at start."""
import sys

from kafka import KafkaConsumer, TopicPartition


def text(b):
    return "-" if b is None else b.decode("utf-8", "backslashreplace")


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         group_id=None)
    parts = sorted(cons.partitions_for_topic(topic) or [])
    if not parts:
        print("kp_consume: no partitions for %r" % topic, file=sys.stderr)
        sys.exit(1)
    tps = [TopicPartition(topic, p) for p in parts]
    cons.assign(tps)
    cons.seek_to_beginning(*tps)
    end = cons.end_offsets(tps)
    pos = {tp: cons.position(tp) for tp in tps}
    out = []
    while any(pos[tp] < end[tp] for tp in tps):
        batch = cons.poll(timeout_ms=5000)
        if not batch:
            print("kp_consume: stalled at %r, end %r" % (pos, end), file=sys.stderr)
            sys.exit(1)
        for tp, recs in batch.items():
            for r in recs:
                if r.offset < end[tp]:
                    out.append("%d %d %s %s" % (tp.partition, r.offset, text(r.key), text(r.value)))
                pos[tp] = r.offset + 1
    cons.close()
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
