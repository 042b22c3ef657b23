#!/usr/bin/python3
"""kp_admin.py BOOTSTRAP TOPIC: KafkaAdminClient against kq.

create_topics (3 partitions, retention.ms override), list_topics,
describe_configs (the override is reported), a second create fails with
TopicAlreadyExistsError, an invalid name fails with InvalidTopicError.
Exit 0 on success, 1 with a message."""
import sys

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import InvalidTopicError, TopicAlreadyExistsError


def die(msg):
    print("kp_admin: " + msg)
    sys.exit(1)


def errors_of(resp):
    # CreateTopicsResponse: topic_errors = [(name, code[, message])...]
    return [(t[0], t[1]) for t in resp.topic_errors]


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    resp = admin.create_topics([NewTopic(topic, 3, 1,
                                         topic_configs={"retention.ms": "3600000"})])
    if errors_of(resp) != [(topic, 0)]:
        die("create_topics: %r" % (errors_of(resp),))
    if topic not in admin.list_topics():
        die("list_topics does not show %r: %r" % (topic, admin.list_topics()))
    cons = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    parts = cons.partitions_for_topic(topic)
    cons.close()
    if parts != {0, 1, 2}:
        die("partitions_for_topic: %r" % (parts,))
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    found = None
    for r in res:
        for (_err, _msg, _rtype, _rname, entries) in r.resources:
            for e in entries:
                if e[0] == "retention.ms":
                    found = e[1]
    if found != "3600000":
        die("describe_configs retention.ms = %r" % (found,))
    try:
        resp = admin.create_topics([NewTopic(topic, 1, 1)])
        codes = errors_of(resp)
        if codes != [(topic, 36)]:
            die("second create_topics: %r" % (codes,))
    except TopicAlreadyExistsError:
        pass
    try:
        resp = admin.create_topics([NewTopic("bad/name", 1, 1)])
        codes = errors_of(resp)
        if codes != [("bad/name", 17)]:
            die("invalid name create_topics: %r" % (codes,))
    except InvalidTopicError:
        pass
    admin.close()
    print("kp_admin: ok")


if __name__ == "__main__":
    main()
