#!/usr/bin/env bats
# The idempotent producer (WIRE.md section 7.9): InitProducerId, duplicate
# batches answered with their first offsets (also after kill -9), sequence
# gaps refused; librdkafka's enable.idempotence and kq-produce use it.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_broker -X offsets.topic.num.partitions=1
}

# expect_once TOPIC FILE: the topic holds exactly the "KEY VALUE" lines of
# FILE, each once: nothing lost, nothing written twice.
expect_once() {
	kqc -t "$1" -e -f '%k %s\n' | sort > "$BATS_TEST_TMPDIR/got"
	sort "$2" > "$BATS_TEST_TMPDIR/want"
	uniq -d "$BATS_TEST_TMPDIR/got" | head -n 5 > "$BATS_TEST_TMPDIR/dups"
	[ ! -s "$BATS_TEST_TMPDIR/dups" ] || fail "written twice: $(cat "$BATS_TEST_TMPDIR/dups")"
	cmp -s "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" ||
		fail "$1 holds $(wc -l < "$BATS_TEST_TMPDIR/got") records, want $(wc -l < "$2"): $(diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" | head -n 5)"
}

@test "kcat with enable.idempotence=true produces through kq: every record once" {
	have kcat || skip "kcat is not installed"
	create_topic idem -p 3
	seq 1 20000 | awk '{ print "k" $1 ":v" $1 }' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr timeout 60 kcat -b "$KQ_BROKERS" -P -t idem -K: \
		-X enable.idempotence=true < "$BATS_TEST_TMPDIR/in"
	assert_status 0
	tr : ' ' < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/expect"
	expect_once idem "$BATS_TEST_TMPDIR/expect"
}

@test "confluent-kafka with enable.idempotence produces through kq: every record once" {
	have_py_module confluent_kafka || skip "python3-confluent-kafka is not installed"
	create_topic idemck -p 3
	run --separate-stderr timeout 60 "$KQ_PY" -c '
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
errs = []
for i in range(5000):
    p.produce("idemck", key=b"c%d" % i, value=b"v%d" % i,
              on_delivery=lambda e, m: errs.append(e) if e else None)
left = p.flush(30)
sys.exit(1 if errs or left else 0)
' "$KQ_BROKERS"
	assert_status 0
	seq 0 4999 | awk '{ print "c" $1 " v" $1 }' > "$BATS_TEST_TMPDIR/expect"
	expect_once idemck "$BATS_TEST_TMPDIR/expect"
}

@test "kq-produce: a batch the broker refuses for good does not stop the rest (sequences renumbered)" {
	create_topic small -p 1 -c max.message.bytes=2000
	{ seq 1 300; head -c 5000 /dev/zero | tr '\0' z; echo; seq 301 600; } > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t small --max-record-bytes 1MiB "$BATS_TEST_TMPDIR/in"
	assert_status 1
	[[ "$stderr" == *"1 record to partition 0 not delivered"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqc -t small -e
	[ "$output" = "$(seq 1 600)" ] || fail "topic holds $(printf '%s\n' "$output" | wc -l) lines"
	# Without idempotence the same input gives the same result.
	create_topic small2 -p 1 -c max.message.bytes=2000
	run --separate-stderr kqp -t small2 --no-idempotence --max-record-bytes 1MiB "$BATS_TEST_TMPDIR/in"
	assert_status 1
	run --separate-stderr kqc -t small2 -e
	[ "$output" = "$(seq 1 600)" ]
}

# Last: it restarts the broker, which the other tests would not find.
@test "a resent batch is not written twice, also after kill -9; a sequence gap is refused" {
	create_topic dup -p 1
	run "$KQ_PY" "$KQ_INTEROP/idem_dup.py" "$KQ_BROKERS" dup "$BATS_TEST_TMPDIR/st"
	assert_status 0
	# first batch, the same again, a gap (OUT_OF_ORDER_SEQUENCE_NUMBER), the next batch
	[ "$output" = "$(printf '0 0\n0 0\n45 -1\n0 2')" ] || fail "answers: $output"
	kill9_broker
	start_broker -X offsets.topic.num.partitions=1
	run "$KQ_PY" "$KQ_INTEROP/idem_dup.py" "$KQ_BROKERS" dup "$BATS_TEST_TMPDIR/st" resend
	assert_status 0
	[ "$output" = "0 2" ] || fail "resend after restart: $output"
	run --separate-stderr kqc -t dup -e -f '%o %s\n'
	[ "$output" = "$(printf '0 a\n1 b\n2 c\n3 d')" ] || fail "log: $output"
	[ -s "$KQ_DATA/producer-id-block" ]
}
