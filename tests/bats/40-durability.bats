#!/usr/bin/env bats
# Durability: acknowledged records survive kill -9 of the broker, the log
# ends on a batch boundary after recovery, and a torn tail is repaired.
# Every test runs its own broker on its own data dir.

bats_require_minimum_version 1.5.0
load helpers

FIX="$BATS_TEST_DIRNAME/../fixtures/e2e"

setup_file() {
	:
}

setup() {
	export KQ_DATA_DIR="$BATS_TEST_TMPDIR/data"
	export KQ_BROKER_LOG="$BATS_TEST_TMPDIR/broker.log"
}

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		broker_log_tail
	fi
	kill_tracked
}

# wait_lines FILE N SECONDS: until FILE has at least N lines.
wait_lines() {
	local i=0
	while [ "$(wc -l < "$1" 2> /dev/null || echo 0)" -lt "$2" ]; do
		[ "$i" -ge $(($3 * 20)) ] && return 1
		sleep 0.05
		i=$((i + 1))
	done
}

# end_offset TOPIC PARTITION: records in the partition per kq-consume.
count_partition() {
	kqc -t "$1" -p "$2" -e -f '.\n' | wc -l
}

# kill9_while_producing [broker args...]: kq-produce --print-offsets streams
# acks=all records; the broker is killed mid-stream and restarted on the same
# data dir; every acknowledged record must be there.
kill9_while_producing() {
	local d=$BATS_TEST_TMPDIR st
	start_broker -X log.segment.bytes=65536 "$@"
	create_topic dur -p 2
	mkfifo "$d/fifo"
	"$KQ_PY" "$FIX/gen-stream.py" > "$d/fifo" &
	track_pid $!
	gpid=$!
	kq-produce -t dur --print-offsets --timeout 3s < "$d/fifo" > "$d/acked" 2> "$d/produce.err" &
	ppid_=$!
	track_pid "$ppid_"
	wait_lines "$d/acked" 20000 30 ||
		fail "only $(wc -l < "$d/acked") records acknowledged in 30s: $(cat "$d/produce.err")"
	kill9_broker
	# The producer gives up after --timeout (3 s) with exit 6.
	wait_pid_gone "$ppid_" 30 || fail "kq-produce still running 30s after the broker died"
	st=0
	wait "$ppid_" || st=$?
	kill "$gpid" 2> /dev/null || true
	[ "$st" -eq 6 ] || fail "kq-produce exited $st, expected 6: $(tail -n 5 "$d/produce.err")"
	n=$(wc -l < "$d/acked")
	start_broker -X log.segment.bytes=65536 "$@"
	kqc -t dur -e -f '%p:%o %s\n' > "$d/got"
	run "$KQ_PY" "$FIX/check-acked.py" "$d/acked" "$d/got"
	echo "$output"
	assert_status 0
	# Segments rolled (64 KiB segments), so recovery crossed segment files.
	[ "$(find "$KQ_DATA/dur-0" "$KQ_DATA/dur-1" -name '*.log' | wc -l)" -gt 2 ]
	# The log ends on a batch boundary: a new record gets the next offset.
	for p in 0 1; do
		end=$(grep -c "^$p:" "$d/got" || true)
		run --separate-stderr kqp -t dur -p "$p" --print-offsets <<< "after-$p"
		assert_status 0
		[ "$output" = "$p:$end" ] || fail "new record got $output, expected $p:$end"
	done
	run --separate-stderr kqc -t dur -p 1 -o -1 -e
	[ "$output" = after-1 ]
	echo "# $n records acknowledged before the crash" >&3
}

@test "kill -9 mid-stream (default flush policy): every acknowledged record survives" {
	kill9_while_producing
}

@test "kill -9 mid-stream with log.flush=os: every acknowledged record survives" {
	kill9_while_producing -X log.flush=os
}

@test "kill -9 mid-stream under a kafka-python acks=all producer" {
	have_py_module kafka || skip "python3-kafka is not installed"
	local d=$BATS_TEST_TMPDIR
	start_broker
	create_topic kpdur -p 3
	: > "$d/acked"
	"$KQ_PY" "$KQ_INTEROP/kp_durable.py" "$KQ_BROKERS" kpdur "$d/acked" > "$d/kp.out" 2>&1 &
	kpid=$!
	track_pid "$kpid"
	wait_lines "$d/acked" 3000 30 || fail "only $(wc -l < "$d/acked") acknowledged: $(cat "$d/kp.out")"
	kill9_broker
	wait_pid_gone "$kpid" 40 || fail "kp_durable.py did not stop: $(cat "$d/kp.out")"
	start_broker
	kqc -t kpdur -e -f '%p:%o %s\n' > "$d/got"
	run "$KQ_PY" "$FIX/check-acked.py" "$d/acked" "$d/got" triples
	echo "$output"
	assert_status 0
	end=$(grep -c '^2:' "$d/got" || true)
	run --separate-stderr kqp -t kpdur -p 2 --print-offsets <<< "after"
	assert_status 0
	[ "$output" = "2:$end" ] || fail "new record got $output, expected 2:$end"
}

# torn_setup: 5 producer runs of 200 records (at least 5 batches) in one
# partition, then the broker is killed.  Sets LOGFILE to the active segment.
torn_setup() {
	start_broker
	create_topic torn -p 1
	seq -f 'r%04g' 1 1000 > "$BATS_TEST_TMPDIR/in"
	for i in 0 1 2 3 4; do
		sed -n "$((i * 200 + 1)),$((i * 200 + 200))p" "$BATS_TEST_TMPDIR/in" | kqp -t torn
	done
	[ "$(kqc -t torn -e | wc -l)" -eq 1000 ]
	kill9_broker
	LOGFILE=$(find "$KQ_DATA/torn-0" -name '*.log' | sort | tail -n 1)
	[ -s "$LOGFILE" ] || fail "no active segment in $KQ_DATA/torn-0"
}

# after_damage MIN MAX: restart; the log is an intact prefix of MIN..MAX
# records; new appends continue at the end.
after_damage() {
	local min=$1 max=$2 n
	start_broker
	kqc -t torn -e > "$BATS_TEST_TMPDIR/out"
	n=$(wc -l < "$BATS_TEST_TMPDIR/out")
	[ "$n" -ge "$min" ] || fail "only $n records left after recovery"
	[ "$n" -le "$max" ] || fail "$n records after recovery, at most $max expected"
	head -n "$n" "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/prefix"
	assert_same_file "$BATS_TEST_TMPDIR/prefix" "$BATS_TEST_TMPDIR/out"
	run --separate-stderr kqp -t torn --print-offsets <<< "new"
	assert_status 0
	[ "$output" = "0:$n" ] || fail "new record at $output, expected 0:$n"
	kqc -t torn -e > "$BATS_TEST_TMPDIR/out2"
	{ cat "$BATS_TEST_TMPDIR/prefix"; echo new; } > "$BATS_TEST_TMPDIR/want2"
	assert_same_file "$BATS_TEST_TMPDIR/want2" "$BATS_TEST_TMPDIR/out2"
	# And it stays consistent over a clean restart.
	stop_broker || fail "no clean shutdown after recovery"
	start_broker
	kqc -t torn -e > "$BATS_TEST_TMPDIR/out3"
	assert_same_file "$BATS_TEST_TMPDIR/want2" "$BATS_TEST_TMPDIR/out3"
}

@test "torn tail: active .log truncated by a few bytes while down is recovered" {
	torn_setup
	size=$(stat -c %s "$LOGFILE")
	truncate -s $((size - 7)) "$LOGFILE"
	# The last batch is damaged: it is dropped whole, the others stay.
	after_damage 800 999
}

@test "torn tail: active .log cut deep inside (3/4 of its size)" {
	torn_setup
	size=$(stat -c %s "$LOGFILE")
	truncate -s $((size * 3 / 4)) "$LOGFILE"
	after_damage 1 999
}

@test "torn tail: active .log cut inside the first batch header" {
	torn_setup
	# Only if this segment starts at offset 0 does its loss empty the log.
	truncate -s 30 "$LOGFILE"
	after_damage 0 999
}

@test "garbage appended after the last batch is cut off at recovery" {
	torn_setup
	head -c 333 /dev/urandom >> "$LOGFILE"
	after_damage 1000 1000
}

@test "zeroes appended after the last batch (preallocated tail) are cut off" {
	torn_setup
	head -c 4096 /dev/zero >> "$LOGFILE"
	after_damage 1000 1000
}

# fetch_cut [PID]: 20000 records in topic cut, its segment cut to 100000
# bytes behind the running broker's back, then one raw Fetch (with PID: while
# the broker has no free descriptor, so it reads instead of mapping).
fetch_cut() {
	create_topic cut -p 1
	seq 1 20000 | kqp -t cut
	SEG=$KQ_DATA/cut-0/00000000000000000000.log
	whole=$("$KQ_PY" "$KQ_TOP/tests/interop/fetch_raw.py" "$KQ_PORT" cut "$SEG" "$@")
	[[ $whole == "error=0 bytes=$(stat -c %s "$SEG")" ]] || fail "before the cut: $whole"
	truncate -s 100000 "$SEG"
	run "$KQ_PY" "$KQ_TOP/tests/interop/fetch_raw.py" "$KQ_PORT" cut "$SEG" "$@"
}

@test "a segment cut behind the running broker's back: fetch sends no byte the log lacks" {
	start_broker
	fetch_cut
	assert_status 0
	# KAFKA_STORAGE_ERROR, no records; the broker names the file and offset.
	[ "$output" = "error=56 bytes=0" ] || fail "$output"
	grep -q "fetch: $SEG: [0-9]* bytes at offset 0: the file ends at 100000" "$KQ_BROKER_LOG"
}

@test "the read fallback (no descriptor to map with) never pads a short read" {
	# No checkpoint may need a descriptor while the broker has none.
	start_broker -X kq.checkpoint.interval.ms=2000000000
	fetch_cut "$KQ_BROKER_PID"
	assert_status 0
	[ "$output" = "error=56 bytes=0" ] || fail "$output"
	grep -q "fetch: $SEG: [0-9]* bytes at offset 0: short read" "$KQ_BROKER_LOG"
}

@test "clean shutdown and restart keep every record and topic" {
	start_broker
	create_topic clean -p 3
	"$FIX/gen-lines" 20000 keyed | kqp -t clean -K '\t'
	kqc -t clean -e -f '%p %o %k %s\n' | sort > "$BATS_TEST_TMPDIR/before"
	stop_broker || fail "kq-broker did not exit on SIGTERM"
	start_broker
	kqc -t clean -e -f '%p %o %k %s\n' | sort > "$BATS_TEST_TMPDIR/after"
	assert_same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/after")" -eq 20000 ]
}

@test "a second broker on the same data dir is refused while the first runs" {
	start_broker
	first=$KQ_BROKER_PID
	run --separate-stderr timeout 10 kq-broker --listen 127.0.0.1:0 --data-dir "$KQ_DATA"
	assert_status 1
	[[ "$stderr" == *"is in use by another kq-broker"* ]] || fail "stderr: $stderr"
	pid_alive "$first" || fail "the first broker died"
}

# startup_state: how the last start described its data directory.
startup_state() {
	sed -n 's/.*loading topics from .* (\(.*\))$/\1/p' "$KQ_BROKER_LOG" | tail -n 1
}

@test "start-up names a new data directory, a clean and an unclean shutdown" {
	mkdir -p "$KQ_DATA_DIR"
	start_broker
	[ "$(startup_state)" = "new data directory" ] || fail "empty dir: $(startup_state)"
	create_topic st -p 1
	printf 'a\nb\n' | kqp -t st
	stop_broker || fail "kq-broker did not exit on SIGTERM"
	start_broker
	[ "$(startup_state)" = "clean shutdown" ] || fail "after SIGTERM: $(startup_state)"
	kill9_broker
	start_broker
	[ "$(startup_state)" = "unclean shutdown" ] || fail "after kill -9: $(startup_state)"
	[ "$(kqc -t st -e | wc -l)" -eq 2 ]
}
