#!/usr/bin/python3
"""kafka-python 2.0.2 as a consumer-group client of kq-broker (60-groups-broker.bats).

group_kp.py consume BROKERS GROUP TOPIC N
    Join GROUP, read exactly N records (in partition order they arrive),
    print "PARTITION OFFSET VALUE" for each, commit the position after the
    last one of each partition (enable_auto_commit=False), then close.
group_kp.py committed BROKERS GROUP TOPIC NPARTS
    Print "PARTITION OFFSET" (OffsetFetch through KafkaConsumer.committed;
    -1 when nothing is committed) for each partition.
group_kp.py hold BROKERS GROUP TOPIC READYFILE
    Stay a member until killed; write the sorted assigned partitions to
    READYFILE once they are known.
group_kp.py describe BROKERS GROUP
    Print ListGroups and DescribeGroups (KafkaAdminClient) as JSON.
group_kp.py delete BROKERS GROUP
    DeleteGroups; print "GROUP ERRORNAME".
"""
import json
import os
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

DEADLINE_S = 40


def consumer(brokers, group, **kw):
    return KafkaConsumer(bootstrap_servers=brokers, group_id=group,
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         session_timeout_ms=6000, heartbeat_interval_ms=1000,
                         client_id="kq-test-kp", **kw)


def consume(brokers, group, topic, n):
    c = consumer(brokers, group)
    c.subscribe([topic])
    got = []
    nxt = {}
    end = time.time() + DEADLINE_S
    while len(got) < n and time.time() < end:
        for tp, recs in c.poll(timeout_ms=500).items():
            for r in recs:
                if len(got) >= n:
                    break
                got.append((tp.partition, r.offset, r.value.decode()))
                nxt[tp] = r.offset + 1
    if len(got) < n:
        sys.exit("consume: got %d of %d records" % (len(got), n))
    c.commit({tp: OffsetAndMetadata(o, "") for tp, o in nxt.items()})
    c.close()
    for p, o, v in got:
        print(p, o, v)


def committed(brokers, group, topic, nparts):
    c = consumer(brokers, group)
    for p in range(nparts):
        off = c.committed(TopicPartition(topic, p))
        print(p, -1 if off is None else off)
    c.close(autocommit=False)


def hold(brokers, group, topic, ready):
    c = consumer(brokers, group)
    c.subscribe([topic])
    written = None
    while True:
        c.poll(timeout_ms=200)
        parts = sorted(tp.partition for tp in c.assignment())
        if parts and parts != written:
            with open(ready + ".tmp", "w") as f:
                f.write(" ".join(map(str, parts)) + "\n")
            os.rename(ready + ".tmp", ready)
            written = parts


def describe(brokers, group):
    a = KafkaAdminClient(bootstrap_servers=brokers, client_id="kq-test-admin")
    groups = a.list_consumer_groups()
    d = a.describe_consumer_groups([group])[0]
    members = []
    for m in d.members:
        asg = {}
        # kafka-python leaves an empty assignment (before SyncGroup) as raw bytes
        if m.member_assignment is not None and not isinstance(m.member_assignment, bytes):
            for t, ps in m.member_assignment.assignment:
                asg[t] = sorted(ps)
        members.append({"member_id": m.member_id, "client_id": m.client_id,
                        "client_host": m.client_host, "assignment": asg})
    print(json.dumps({"groups": sorted([list(g) for g in groups]),
                      "error_code": d.error_code, "state": d.state,
                      "protocol_type": d.protocol_type, "protocol": d.protocol,
                      "members": members}, sort_keys=True))
    a.close()


def delete(brokers, group):
    a = KafkaAdminClient(bootstrap_servers=brokers, client_id="kq-test-admin")
    for g, err in a.delete_consumer_groups([group]):
        print(g, err.__name__)
    a.close()


def main():
    mode, brokers = sys.argv[1], sys.argv[2]
    if mode == "consume":
        consume(brokers, sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == "committed":
        committed(brokers, sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == "hold":
        hold(brokers, sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "describe":
        describe(brokers, sys.argv[3])
    elif mode == "delete":
        delete(brokers, sys.argv[3])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
