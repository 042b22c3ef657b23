#!/usr/bin/env bats
# kq-produce behaviour of its own (CLI.md sections 2 and 7): bad input under
# --on-error fail and skip, --rejects, -T, --skip-empty, liveness of a slow
# pipe (linger), back-pressure with a tiny --buffer, acks=0, signals.

bats_require_minimum_version 1.5.0
load helpers

@test "over-long record: fail delivers what came before, exits 5 naming line and size" {
	create_topic long -p 1
	{
		printf 'one\ntwo\n'
		head -c 5000 /dev/zero | tr '\0' x
		printf '\nafter\n'
	} > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t long --max-record-bytes 1KiB "$BATS_TEST_TMPDIR/in"
	assert_status 5
	[[ "$stderr" == *"line 3: record is"*"over --max-record-bytes 1.0 KiB"* ]] ||
		fail "stderr: $stderr"
	run --separate-stderr kqc -t long -e
	[ "$output" = "$(printf 'one\ntwo')" ] || fail "topic holds: $output"
}

@test "over-long record under --on-error skip goes to --rejects; the rest is sent" {
	create_topic longskip -p 1
	{
		printf 'one\n'
		head -c 300000 /dev/zero | tr '\0' y
		printf '\ntwo\n'
		printf 'three'
	} > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t longskip --max-record-bytes 1KiB --on-error skip \
		--rejects "$BATS_TEST_TMPDIR/rej" < "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[[ "$stderr" == *"line 2: record is 293.0 KiB"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqc -t longskip -e
	[ "$output" = "$(printf 'one\ntwo\nthree')" ] || fail "topic holds: $output"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/rej")" -eq 1 ]
	grep -q '"error":"stdin line 2: record is 293.0 KiB' "$BATS_TEST_TMPDIR/rej"
}

@test "malformed JSON: exit 5 by default; with skip the line lands in --rejects" {
	create_topic jrej -p 1
	printf '%s\n' '{"value":"a"}' '{"value":' '{"key":"k","value":"b"}' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t jrej -f json "$BATS_TEST_TMPDIR/in"
	assert_status 5
	[[ "$stderr" == *"line 2:"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqp -t jrej -f json --on-error skip --rejects "$BATS_TEST_TMPDIR/rej" \
		"$BATS_TEST_TMPDIR/in"
	assert_status 0
	# The failed run delivered the line before the bad one, this one all good lines.
	run --separate-stderr kqc -t jrej -e -K =
	[ "$output" = "$(printf '=a\n=a\nk=b')" ] || fail "topic holds: $output"
	"$KQ_PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
assert rows[0]["value"] == "{\"value\":", rows
assert "line 2" in rows[0]["error"], rows
' "$BATS_TEST_TMPDIR/rej"
}

@test "binary: a truncated frame at the end is bad input (exit 5), the frames before it are sent" {
	create_topic bintrunc -p 1
	printf '\377\377\377\377\0\0\0\001a\377\377\377\377\0\0\0\011abc' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t bintrunc -f binary "$BATS_TEST_TMPDIR/in"
	assert_status 5
	[[ "$stderr" == *"truncated frame"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqc -t bintrunc -e
	[ "$output" = a ]
}

@test "-T copies the input to stdout, also when the reader of the copy is gone" {
	create_topic teed -p 1
	seq 1 5000 > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t teed -T "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/in")" ]
	# Into a pipe closed after one line: every record is still sent.
	run --separate-stderr bash -c 'set -o pipefail; timeout 60 kq-produce -t teed -T < "$1" | head -n 1' \
		_ "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[ "$(kqc -t teed -e | wc -l)" -eq 10000 ]
}

@test "--skip-empty drops empty records; by default they are sent" {
	create_topic empt -p 1
	printf 'a\n\nb\n\n' | kqp -t empt
	printf 'c\n\nd\n' | kqp -t empt --skip-empty
	run --separate-stderr kqc -t empt -e -f '[%s]\n'
	[ "$output" = "$(printf '[a]\n[]\n[b]\n[]\n[c]\n[d]')" ] || fail "got: $output"
}

@test "a slow pipe stays live: a record is readable while kq-produce still waits for more" {
	create_topic live2 -p 1
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	kq-produce -t live2 < "$BATS_TEST_TMPDIR/fifo" 2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	track_pid "$pid"
	exec 4> "$BATS_TEST_TMPDIR/fifo"
	echo first >&4
	got=""
	for _ in $(seq 1 100); do
		got=$(kqc -t live2 -e)
		[ -n "$got" ] && break
		sleep 0.1
	done
	pid_alive "$pid" || fail "kq-produce exited early: $(cat "$BATS_TEST_TMPDIR/err")"
	[ "$got" = first ] || fail "record not visible while the pipe stays open: '$got'"
	echo second >&4
	exec 4>&-
	wait "$pid"
	run --separate-stderr kqc -t live2 -e
	[ "$output" = "$(printf 'first\nsecond')" ]
}

@test "a tiny --buffer applies back-pressure and loses nothing; batches stay batches" {
	create_topic bp -p 3
	"$KQ_FIXTURES/gen-lines" 100000 plain > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t bp --buffer 4KiB -X batch.size=2KiB "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t bp -e | sort > "$BATS_TEST_TMPDIR/out"
	sort "$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "--acks 0 and --acks 1 deliver; acks 0 warns that delivery cannot be confirmed" {
	create_topic acks -p 2
	seq 1 1000 > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t acks -a 0 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[[ "$stderr" == *"warning: --acks 0"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqp -t acks -a 1 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	for _ in $(seq 1 50); do
		[ "$(kqc -t acks -e | wc -l)" -eq 2000 ] && break
		sleep 0.1
	done
	[ "$(kqc -t acks -e | wc -l)" -eq 2000 ]
}

@test "--acks 0 delivers every record, also through a --buffer smaller than the input" {
	create_topic acks0 -p 3
	"$KQ_FIXTURES/gen-lines" 200000 plain > "$BATS_TEST_TMPDIR/in"
	# The socket's unsent bytes hold the batches back, so --buffer applies.
	run --separate-stderr kqp -t acks0 -a 0 --buffer 64KiB -X batch.size=16KiB \
		"$BATS_TEST_TMPDIR/in"
	assert_status 0
	# Nothing acknowledges acks=0 records: poll until the broker has them all.
	for _ in $(seq 1 100); do
		[ "$(kqc -t acks0 -e | wc -l)" -ge 200000 ] && break
		sleep 0.1
	done
	kqc -t acks0 -e | sort > "$BATS_TEST_TMPDIR/out"
	sort "$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "SIGTERM while reading a pipe: what was read is acknowledged, exit 143" {
	create_topic sigp -p 1
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	kq-produce -t sigp --print-offsets < "$BATS_TEST_TMPDIR/fifo" > "$BATS_TEST_TMPDIR/acked" \
		2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	track_pid "$pid"
	exec 4> "$BATS_TEST_TMPDIR/fifo"
	seq 1 100 >&4
	for _ in $(seq 1 100); do
		[ "$(wc -l < "$BATS_TEST_TMPDIR/acked")" -ge 100 ] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	wait_pid_gone "$pid" 15 || fail "kq-produce ignored SIGTERM"
	st=0
	wait "$pid" || st=$?
	exec 4>&-
	[ "$st" -eq 143 ] || fail "exit $st: $(cat "$BATS_TEST_TMPDIR/err")"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/acked")" -eq 100 ]
	[ "$(kqc -t sigp -e | wc -l)" -eq 100 ]
}

@test "JSON partition and timestamp are honoured; -p overrides; a missing partition is re-placed" {
	create_topic jpart -p 2
	printf '%s\n' '{"value":"x","partition":1,"timestamp":1714560000123}' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t jpart -f json "$BATS_TEST_TMPDIR/in"
	assert_status 0
	run --separate-stderr kqc -t jpart -p 1 -e -f '%p %T %s\n'
	[ "$output" = "1 1714560000123 x" ] || fail "got: $output"
	run --separate-stderr kqp -t jpart -f json -p 0 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	run --separate-stderr kqc -t jpart -p 0 -e -f '%p %s\n'
	[ "$output" = "0 x" ] || fail "-p 0 did not override: $output"
	# Partitions 7 and 9 do not exist: the records go where their key sends
	# them, as a record naming no partition, and one warning counts them.
	printf '%s\n' '{"key":"k","value":"y","partition":7}' '{"key":"k","value":"z","partition":9}' \
		'{"key":"k","value":"ref"}' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t jpart -f json "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[ "$stderr" = "kq-produce: warning: 2 records named a partition that topic 'jpart' does not have; placed as if unnamed (--keep-partitions refuses them)" ] ||
		fail "stderr: $stderr"
	run --separate-stderr kqc -t jpart -e -f '%p %k=%s\n'
	[ "$(grep -c ' k=' <<< "$output")" -eq 3 ] || fail "got: $output"
	[ "$(grep ' k=' <<< "$output" | cut -d' ' -f1 | sort -u | wc -l)" -eq 1 ] ||
		fail "not placed by key: $output"
	run --separate-stderr kqp -t jpart -f json --keep-partitions "$BATS_TEST_TMPDIR/in"
	assert_status 5
	[[ "$stderr" == *"in line 1: partition 7 does not exist"* ]] || fail "stderr: $stderr"
}

@test "--create grows the topic it created to a JSON partition, up to 4096 partitions" {
	printf '%s\n' '{"value":"a","partition":2}' '{"value":"far","partition":4096}' \
		'{"value":"b","partition":1}' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t jgrow -f json --create "$BATS_TEST_TMPDIR/in"
	assert_status 0
	[[ "$stderr" == *"topic 'jgrow' now has 3 partitions"* ]] || fail "stderr: $stderr"
	[[ "$stderr" == *"warning: 1 record named a partition that topic 'jgrow' does not have"* ]] ||
		fail "stderr: $stderr"
	[ "$(kqt describe jgrow | wc -l)" -eq 4 ] || fail "jgrow: $(kqt describe jgrow)"
	run --separate-stderr kqc -t jgrow -e -f '%p %s\n'
	[ "${#lines[@]}" -eq 3 ] || fail "jgrow holds: $output"
	grep -qx '1 b' <<< "$output" || fail "jgrow holds: $output"
	grep -qx '2 a' <<< "$output" || fail "jgrow holds: $output"
	grep -qx '[012] far' <<< "$output" || fail "jgrow holds: $output"
}
