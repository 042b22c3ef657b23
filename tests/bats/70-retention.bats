#!/usr/bin/env bats
# Retention and compaction: old segments go by time and by size and the
# earliest offset follows; compacted topics keep the latest value per key
# (plain, gzip and lz4 batches), tombstones vanish after delete.retention.ms,
# a kill -9 during cleaning leaves a valid log; Kafka admin clients read and
# change topic configs.  Every test runs its own broker, with retention and
# the cleaner checking every 200 ms.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	:
}

# start_fast [args...]: a broker whose retention and cleaner look every 200 ms.
start_fast() {
	start_broker -X log.retention.check.interval.ms=200 -X log.cleaner.backoff.ms=200 "$@"
}

setup() {
	export KQ_DATA_DIR="$BATS_TEST_TMPDIR/data"
	export KQ_BROKER_LOG="$BATS_TEST_TMPDIR/broker.log"
	start_fast
}

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		broker_log_tail
	fi
	kill_tracked
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
	local limit=$1 i=0
	shift
	until "$@"; do
		[ "$i" -ge $((limit * 5)) ] && return 1
		sleep 0.2
		i=$((i + 1))
	done
}

# earliest TOPIC: ListOffsets(earliest) of partition 0, as kcat -Q sees it.
earliest() {
	timeout 20 kcat -b "$KQ_BROKERS" -Q -t "$1:0:-2" | sed -n 's/.* offset \([0-9-]*\)$/\1/p'
}

earliest_above() {
	[ "$(earliest "$1")" -gt "$2" ]
}

# segstat TOPIC: "CLOSED ACTIVE CODECS SEGMENTS" read from the partition's
# files: records in closed segments, records in the active one, the codecs
# of all batches, the number of segments.  Fails if batch offsets do not
# strictly increase.
segstat() {
	"$KQ_PY" - "$KQ_DATA/$1-0" <<-'EOF'
	import os, struct, sys
	d = sys.argv[1]
	logs = sorted(f for f in os.listdir(d) if f.endswith(".log"))
	closed = active = 0
	codecs = set()
	prev = -1
	for i, name in enumerate(logs):
	    data = open(os.path.join(d, name), "rb").read()
	    pos = 0
	    while pos + 61 <= len(data):
	        base, length = struct.unpack(">qi", data[pos:pos + 12])
	        attrs, = struct.unpack(">h", data[pos + 21:pos + 23])
	        delta, = struct.unpack(">i", data[pos + 23:pos + 27])
	        count, = struct.unpack(">i", data[pos + 57:pos + 61])
	        if base <= prev:
	            sys.exit("offsets go back at %s byte %d" % (name, pos))
	        prev = base + delta
	        codecs.add(attrs & 7)
	        if i == len(logs) - 1:
	            active += count
	        else:
	            closed += count
	        pos += 12 + length
	print(closed, active, ",".join(str(c) for c in sorted(codecs)), len(logs))
	EOF
}

# closed_at_most TOPIC N: the closed segments hold at most N records.
closed_at_most() {
	local st
	st=$(segstat "$1") || return 1
	[ "${st%% *}" -le "$2" ]
}

# produce_keys TOPIC ROUNDS FIRST_ROUND [kcat args...]: 100 keys x ROUNDS
# updates, values vROUND.
produce_keys() {
	local t=$1 rounds=$2 first=$3
	shift 3
	awk -v r="$rounds" -v f="$first" \
		'BEGIN { for (j = f; j < f + r; j++) for (k = 0; k < 100; k++) print "key" k ":v" j }' |
		timeout 60 kcat -b "$KQ_BROKERS" -P -K: -Z -t "$t" -X batch.num.messages=100 "$@"
}

# consume_all TOPIC OUT: every record as "key value offset" (NULL for null).
consume_all() {
	timeout 30 kcat -b "$KQ_BROKERS" -C -t "$1" -o beginning -e -Z -q \
		-f '%k %s %o\n' > "$2"
}

# check_view FILE KEYS: offsets strictly increase; the last value of each
# key is the one expected.  KEYS: blank-separated "key=value" pairs; a value
# of GONE means the key must not appear at all.
check_view() {
	local f=$1
	shift
	awk -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "="); ex[kv[1]] = kv[2] } }
		{ if (NR > 1 && $3 <= prev) { print "offset " $3 " after " prev; bad = 1 } prev = $3; last[$1] = $2 }
		END {
			for (k in ex) {
				if (ex[k] == "GONE") { if (k in last) { print k " still there: " last[k]; bad = 1 } }
				else if (last[k] != ex[k]) { print k ": " last[k] " != " ex[k]; bad = 1 }
			}
			exit bad
		}' "$f"
}

# expect_latest ROUND [GONE_KEYS...]: key0..key99 = vROUND except those gone.
expect_latest() {
	local r=$1 k out=
	shift
	for k in $(seq 0 99); do
		if [[ " $* " == *" key$k "* ]]; then
			out="$out key$k=GONE"
		else
			out="$out key$k=v$r"
		fi
	done
	echo "$out"
}

@test "retention by time: old segments go, earliest offset advances, readers recover" {
	create_topic rtime -c segment.bytes=2048 -c retention.ms=2000
	seq 1 3000 | timeout 60 kcat -b "$KQ_BROKERS" -P -t rtime -X batch.num.messages=20
	st=$(segstat rtime)
	[ "${st##* }" -gt 10 ] || fail "expected many segments: $st"
	[ "$(earliest rtime)" -eq 0 ]
	wait_for 20 earliest_above rtime 0 || fail "earliest offset still $(earliest rtime)"
	start=$(earliest rtime)
	run kqt describe rtime
	assert_status 0
	[[ "$output" == *" $start "*3000* ]] || fail "describe: $output"
	# Only the active segment can be left.
	one_segment() {
		[ "$(segstat rtime | cut -d' ' -f4)" -eq 1 ]
	}
	wait_for 10 one_segment ||
		fail "segments left: $(segstat rtime)"
	start=$(earliest rtime)
	# kcat from the beginning reads from the new start to the end.
	run timeout 20 kcat -b "$KQ_BROKERS" -C -t rtime -o beginning -e -q -f '%o %s\n'
	assert_status 0
	[ "$(echo "$output" | head -n 1)" = "$start $((start + 1))" ] || fail "first: ${output:0:80}"
	[ "$(echo "$output" | wc -l)" -eq $((3000 - start)) ]
	# A consumer positioned before the start gets OFFSET_OUT_OF_RANGE and resets.
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from kafka import KafkaConsumer, TopicPartition
	tp = TopicPartition("rtime", 0)
	c = KafkaConsumer(bootstrap_servers=sys.argv[1], auto_offset_reset="earliest",
	                  enable_auto_commit=False, consumer_timeout_ms=10000)
	c.assign([tp])
	c.seek(tp, 0)
	first = next(iter(c))
	print(first.offset, first.value.decode())
	EOF
	assert_status 0
	[ "$output" = "$start $((start + 1))" ] || fail "kafka-python: $output (start $start)"
	# kq-consume too.
	run kqc -t rtime -o beginning -e -f '%o\n'
	assert_status 0
	[ "$(echo "$output" | head -n 1)" = "$start" ] || fail "kq-consume: ${output:0:80}"
}

@test "retention by size: the log shrinks to retention.bytes, the active segment stays" {
	create_topic rsize -c segment.bytes=2048 -c retention.bytes=8192
	seq 1 3000 | timeout 60 kcat -b "$KQ_BROKERS" -P -t rsize -X batch.num.messages=20
	wait_for 20 earliest_above rsize 0 || fail "earliest offset still $(earliest rsize)"
	size_ok() {
		local n
		n=$(cat "$KQ_DATA"/rsize-0/*.log | wc -c)
		[ "$n" -le $((8192 + 2048)) ] && [ "$n" -ge 2048 ]
	}
	wait_for 10 size_ok || fail "size $(cat "$KQ_DATA"/rsize-0/*.log | wc -c)"
	start=$(earliest rsize)
	run timeout 20 kcat -b "$KQ_BROKERS" -C -t rsize -o beginning -e -q -f '%o\n'
	assert_status 0
	[ "$(echo "$output" | wc -l)" -eq $((3000 - start)) ]
	[ "$(echo "$output" | tail -n 1)" -eq 2999 ]
	# A topic without retention limits keeps everything: checked once a
	# topic with limits, written after it, has been trimmed.
	create_topic rkeep -c segment.bytes=2048 -c retention.ms=-1
	seq 1 500 | timeout 60 kcat -b "$KQ_BROKERS" -P -t rkeep -X batch.num.messages=20
	create_topic rsize2 -c segment.bytes=2048 -c retention.bytes=8192
	seq 1 3000 | timeout 60 kcat -b "$KQ_BROKERS" -P -t rsize2 -X batch.num.messages=20
	wait_for 20 earliest_above rsize2 0 || fail "rsize2 not trimmed: $(earliest rsize2)"
	[ "$(earliest rkeep)" -eq 0 ]
	[ "$(kqc -t rkeep -e | wc -l)" -eq 500 ]
}

@test "compaction keeps the latest value per key (plain, gzip, lz4); tombstones vanish" {
	local t codec
	for codec in none gzip lz4; do
		create_topic "c$codec" -c cleanup.policy=compact -c segment.bytes=4096 \
			-c min.cleanable.dirty.ratio=0.01 -c delete.retention.ms=1000
		produce_keys "c$codec" 200 0 -z "$codec"
	done
	for codec in none gzip lz4; do
		t=c$codec
		wait_for 30 closed_at_most "$t" 100 || fail "$t not compacted: $(segstat "$t")"
		st=$(segstat "$t")
		consume_all "$t" "$BATS_TEST_TMPDIR/$t.out"
		n=$(wc -l < "$BATS_TEST_TMPDIR/$t.out")
		read -r closed active codecs _ <<< "$st"
		# Everything consumed is what the files hold: about 100 plus the active segment.
		[ "$n" -eq $((closed + active)) ] || fail "$t: consumed $n, files $st"
		[ "$n" -lt 20000 ] && [ "$closed" -le 100 ] || fail "$t: $n records, $st"
		check_view "$BATS_TEST_TMPDIR/$t.out" "$(expect_latest 199)" || fail "$t: wrong view"
		# kq-consume reads the gaps the same way.
		kqc -t "$t" -o beginning -e -f '%k %s %o\n' > "$BATS_TEST_TMPDIR/$t.kq"
		assert_same_file "$BATS_TEST_TMPDIR/$t.out" "$BATS_TEST_TMPDIR/$t.kq"
		case $codec in
		none) [ "$codecs" = 0 ] ;;
		gzip) [ "$codecs" = 1 ] ;;
		lz4) [ "$codecs" = 3 ] ;;
		esac || fail "$t: codecs $codecs after compaction"
	done
	grep -q "compacted cgzip-0" "$(broker_log)"
	# kafka-python reads the rewritten (gapped, recompressed) batches too (it has no lz4 here).
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from kafka import KafkaConsumer, TopicPartition
	c = KafkaConsumer(bootstrap_servers=sys.argv[1], auto_offset_reset="earliest",
	                  enable_auto_commit=False, consumer_timeout_ms=3000)
	c.assign([TopicPartition("cgzip", 0)])
	for m in c:
	    print(m.key.decode(), m.value.decode(), m.offset)
	EOF
	assert_status 0
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/cgzip.out")" ] || fail "kafka-python: ${output:0:200}"
	# Records without a key are refused on a compacted topic.
	run timeout 20 kcat -b "$KQ_BROKERS" -P -t cnone <<< "no key here"
	[[ "$output" == *"nvalid"* ]] || fail "keyless record: $status $output"
	# Tombstones for key0..key9, then enough updates of the others to close their segment.
	printf 'key%d:\n' 0 1 2 3 4 5 6 7 8 9 |
		timeout 20 kcat -b "$KQ_BROKERS" -P -K: -Z -t cnone
	awk 'BEGIN { for (j = 200; j < 203; j++) for (k = 10; k < 100; k++) print "key" k ":v" j }' |
		timeout 60 kcat -b "$KQ_BROKERS" -P -K: -t cnone -X batch.num.messages=100
	gone() {
		consume_all cnone "$BATS_TEST_TMPDIR/tomb.out" &&
			! grep -q '^key[0-9] ' "$BATS_TEST_TMPDIR/tomb.out"
	}
	wait_for 30 gone || fail "tombstoned keys still there: $(grep '^key[0-9] ' "$BATS_TEST_TMPDIR/tomb.out" | head -3)"
	want=$(expect_latest 202 key0 key1 key2 key3 key4 key5 key6 key7 key8 key9)
	check_view "$BATS_TEST_TMPDIR/tomb.out" "$want"
}

@test "compaction runs on log.cleaner.backoff.ms, not on the retention interval" {
	stop_broker
	export KQ_DATA_DIR="$BATS_TEST_TMPDIR/data2"
	# Retention keeps its default 5-minute interval; only the cleaner is quick.
	start_broker -X log.cleaner.backoff.ms=200
	create_topic cb -c cleanup.policy=compact -c segment.bytes=4096 \
		-c min.cleanable.dirty.ratio=0.01
	produce_keys cb 50 0
	# All 5000 are in the log (a read could already find it compacted).
	run --separate-stderr kqt describe cb
	assert_status 0
	[[ "${lines[1]}" =~ \ 5000$ ]] || fail "produced: $output"
	shrunk() {
		consume_all cb "$BATS_TEST_TMPDIR/cb.out" &&
			[ "$(wc -l < "$BATS_TEST_TMPDIR/cb.out")" -lt 2500 ]
	}
	wait_for 30 shrunk || fail "not compacted: $(wc -l < "$BATS_TEST_TMPDIR/cb.out") records"
	check_view "$BATS_TEST_TMPDIR/cb.out" "$(expect_latest 49)" || fail "wrong view"
	grep -q "compacted cb-0" "$(broker_log)"
}

@test "kill -9 during compaction: the log recovers valid and correctly compacted" {
	local round i left=0
	# A backlog written with the cleaner off makes one long pass to crash into.
	stop_broker
	start_broker -X log.cleaner.enable=false
	create_topic crash -c cleanup.policy=compact -c segment.bytes=65536 \
		-c min.cleanable.dirty.ratio=0.01
	produce_keys crash 1000 0 -z gzip
	stop_broker
	start_fast
	for i in $(seq 1 1000); do
		compgen -G "$KQ_DATA/crash-0/*.cleaned" > /dev/null && break
		sleep 0.01
	done
	kill9_broker
	# Usually the kill lands while the worker writes; then recovery must clean up.
	compgen -G "$KQ_DATA/crash-0/*.cleaned" > /dev/null && left=1
	start_fast
	if [ "$left" = 1 ]; then
		grep -q "leftover of an interrupted compaction" "$(broker_log)" ||
			fail "no recovery of the cleaner's files"
	fi
	# More crashes at other moments of the cleaner's work.
	for round in 0 1 2; do
		produce_keys crash 50 $((1000 + round * 50)) -z lz4
		sleep "0.$((round * 3 + 1))"
		kill9_broker
		start_fast
	done
	wait_for 30 closed_at_most crash 100 || fail "not compacted: $(segstat crash)"
	run ls "$KQ_DATA/crash-0"
	assert_status 0
	[[ "$output" != *.cleaned* && "$output" != *.swap* ]] || fail "leftovers: $output"
	consume_all crash "$BATS_TEST_TMPDIR/crash.out"
	check_view "$BATS_TEST_TMPDIR/crash.out" "$(expect_latest 1149)"
	# A clean restart verifies nothing was cut.
	stop_broker
	start_fast
	! grep -q "truncated at byte" "$(broker_log)" || fail "$(grep truncated "$(broker_log)")"
	consume_all crash "$BATS_TEST_TMPDIR/crash2.out"
	assert_same_file "$BATS_TEST_TMPDIR/crash.out" "$BATS_TEST_TMPDIR/crash2.out"
}

@test "admin clients: kafka-python and confluent-kafka read and change topic configs" {
	create_topic adm -c retention.ms=600000
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
	a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
	def describe():
	    r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "adm")])
	    res = r[0].resources[0]
	    assert res[0] == 0, res
	    return {e[0]: e[1] for e in res[4]}
	c = describe()
	assert c["retention.ms"] == "600000", c["retention.ms"]
	assert c["cleanup.policy"] == "delete", c["cleanup.policy"]
	assert c["min.cleanable.dirty.ratio"] == "0.5", c["min.cleanable.dirty.ratio"]
	assert c["delete.retention.ms"] == "86400000"
	r = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "adm", configs={
	    "cleanup.policy": "compact", "min.compaction.lag.ms": "5000",
	    "delete.retention.ms": "1000", "retention.ms": "700000"})])
	assert r.resources[0][0] == 0, r
	c = describe()
	assert (c["cleanup.policy"], c["min.compaction.lag.ms"], c["delete.retention.ms"],
	        c["retention.ms"]) == ("compact", "5000", "1000", "700000"), c
	r = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "adm", configs={
	    "min.cleanable.dirty.ratio": "1.5"})])
	assert r.resources[0][0] == 40, r
	r = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "adm", configs={
	    "cleanup.policy": "shred"})])
	assert r.resources[0][0] == 40, r
	assert describe()["cleanup.policy"] == "compact"
	print("ok")
	EOF
	assert_status 0
	[ "$output" = ok ]
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from confluent_kafka.admin import AdminClient, ConfigResource
	a = AdminClient({"bootstrap.servers": sys.argv[1]})
	res = ConfigResource("topic", "adm")
	c = list(a.describe_configs([res]).values())[0].result(10)
	assert c["cleanup.policy"].value == "compact", c["cleanup.policy"]
	assert c["min.compaction.lag.ms"].value == "5000"
	assert c["segment.bytes"].value == "1073741824"
	res = ConfigResource("topic", "adm", set_config={"cleanup.policy": "compact,delete",
	                                                 "min.cleanable.dirty.ratio": "0.2"})
	list(a.alter_configs([res]).values())[0].result(10)
	c = list(a.describe_configs([ConfigResource("topic", "adm")]).values())[0].result(10)
	assert c["cleanup.policy"].value == "compact,delete", c["cleanup.policy"]
	assert c["min.cleanable.dirty.ratio"].value == "0.2"
	bad = ConfigResource("topic", "adm", set_config={"delete.retention.ms": "-5"})
	try:
	    list(a.alter_configs([bad]).values())[0].result(10)
	    sys.exit("negative delete.retention.ms accepted")
	except Exception as e:
	    assert "INVALID_CONFIG" in str(e) or "nvalid" in str(e), e
	print("ok")
	EOF
	assert_status 0
	[ "$output" = ok ]
	run kqt describe adm --configs
	assert_status 0
	[[ "$output" == *"cleanup.policy=compact,delete"*topic* ]] || fail "$output"
	[[ "$output" == *"min.cleanable.dirty.ratio=0.2"*topic* ]] || fail "$output"
	# The overrides live with the topic across a restart.
	stop_broker
	start_broker
	run kqt describe adm --configs
	[[ "$output" == *"cleanup.policy=compact,delete"*topic* ]] || fail "$output"
	# kq-topics alter changes them too.
	run kqt alter adm -c min.compaction.lag.ms=0 -c delete.retention.ms=5
	assert_status 0
	run kqt describe adm --configs
	[[ "$output" == *"delete.retention.ms=5 "*topic* ]] || fail "$output"
	run kqt alter adm --delete-config delete.retention.ms
	assert_status 0
	run kqt describe adm --configs
	[[ "$output" == *"delete.retention.ms=86400000 "*default* ]] || fail "$output"
	# message.timestamp.type=LogAppendTime: the broker's clock replaces the producer's.
	create_topic lat -c message.timestamp.type=LogAppendTime
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys, time
	from kafka import KafkaProducer, KafkaConsumer, TopicPartition
	t0 = int(time.time() * 1000) - 1000
	p = KafkaProducer(bootstrap_servers=sys.argv[1], acks="all", compression_type="gzip")
	md = p.send("lat", b"v", timestamp_ms=1000).get(10)
	assert md.timestamp >= t0, md
	c = KafkaConsumer(bootstrap_servers=sys.argv[1], auto_offset_reset="earliest",
	                  consumer_timeout_ms=10000)
	c.assign([TopicPartition("lat", 0)])
	m = next(iter(c))
	assert (m.timestamp, m.timestamp_type) == (md.timestamp, 1), (m, md)
	print("ok")
	EOF
	assert_status 0
	[ "$output" = ok ]
}

@test "__consumer_offsets is compacted: commits stay bounded, the last one survives" {
	stop_broker
	export KQ_DATA_DIR="$BATS_TEST_TMPDIR/data2"
	start_fast -X offsets.topic.num.partitions=1
	run kqt alter __consumer_offsets -c segment.bytes=2048 -c min.cleanable.dirty.ratio=0.01
	assert_status 0
	seq 1 10 | timeout 20 kcat -b "$KQ_BROKERS" -P -t oc
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
	c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id="g70", enable_auto_commit=False)
	tp = TopicPartition("oc", 0)
	c.assign([tp])
	for i in range(300):
	    c.commit({tp: OffsetAndMetadata(i % 10 + 1, "")})
	print(c.committed(tp))
	EOF
	assert_status 0
	[ "$output" = 10 ] || fail "$output"
	wait_for 20 closed_at_most __consumer_offsets 5 ||
		fail "not compacted: $(segstat __consumer_offsets)"
	kill9_broker
	start_fast -X offsets.topic.num.partitions=1
	run "$KQ_PY" - "$KQ_BROKERS" <<-'EOF'
	import sys
	from kafka import KafkaConsumer, TopicPartition
	c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id="g70", enable_auto_commit=False)
	print(c.committed(TopicPartition("oc", 0)))
	EOF
	assert_status 0
	[ "$output" = 10 ] || fail "after restart: $output"
}
