#!/usr/bin/env bats
# Hostile input on the broker port (RELIABILITY.md E1, E2, E5, E8, E11):
# every bad frame is refused as Kafka refuses it (the connection closed, or
# an answer with Kafka's error code: badinput.py ANSWERS), the broker stays
# up and keeps serving, and no invalid topic name reaches the filesystem.

bats_require_minimum_version 1.5.0
load helpers

BAD="$BATS_TEST_DIRNAME/../interop/badinput.py"

setup_file() {
	# The data dir sits three levels down so that '../' names would land in
	# a directory this file watches.
	export KQ_DATA_DIR="$BATS_FILE_TMPDIR/w1/w2/w3/data"
	start_broker -X auto.create.topics.enable=true
}

# The broker is alive and a normal client gets served.
assert_broker_serves() {
	pid_alive "$KQ_BROKER_PID" || fail "kq-broker (pid $KQ_BROKER_PID) is gone"
	run --separate-stderr timeout 20 kq-topics --timeout 10s list
	assert_status 0
	if have kcat; then
		run --separate-stderr timeout 20 kcat -b "$KQ_BROKERS" -L -m 10
		assert_status 0
		[[ "$output" == *"broker 0 at 127.0.0.1:$KQ_PORT"* ]] || fail "kcat -L: $output"
	fi
}

frame_case() {
	run timeout 30 "$KQ_PY" "$BAD" "$KQ_PORT" frame "$1"
	echo "$output"
	assert_status 0
	assert_broker_serves
}

rss_kib() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

@test "the probe itself works: ApiVersions v0 is answered" {
	frame_case apiversions
}

@test "size prefix 0x7fffffff: the connection is closed, broker serves on" {
	frame_case size-max
}

@test "negative size prefixes (0x80000000, -1) are refused: the connection is closed" {
	frame_case size-neg
	frame_case size-minus1
}

@test "size prefix 0, or shorter than a request header: closed" {
	frame_case size-zero
	frame_case size-short
}

@test "size prefix just over the 100 MiB frame cap: closed" {
	frame_case size-over-100mib
}

@test "an HTTP GET / HTTP/1.1 request on the Kafka port: closed" {
	frame_case http
}

@test "a TLS ClientHello on the plaintext port: closed" {
	frame_case tls
}

@test "Metadata v1 with topic count 2^31-1 (and v4, and count -2): closed" {
	frame_case count-metadata-v1
	frame_case count-metadata-v4
	frame_case count-metadata-neg
}

@test "Produce v3 with topic and record counts 2^31-1: closed" {
	frame_case count-produce-v3
	frame_case count-produce-records
}

@test "CreateTopics, Fetch and string-length bombs: closed" {
	frame_case count-createtopics
	frame_case count-fetch
	frame_case count-string
	frame_case count-apiversions-clientid
}

@test "unknown API key and unsupported version: closed" {
	frame_case unknown-api
	frame_case bad-version
}

@test "ApiVersions v999: answered with UNSUPPORTED_VERSION, the connection serves on" {
	frame_case apiversions-v999
}

@test "random garbage bytes (framed and unframed): closed" {
	frame_case garbage
	frame_case garbage-stream
}

@test "300 fuzzed requests on fresh connections; the broker survives" {
	run timeout 120 "$KQ_PY" "$BAD" "$KQ_PORT" fuzz 300 1
	echo "$output"
	assert_status 0
	assert_broker_serves
}

@test "a 2 GiB size prefix repeated 300 times costs no memory" {
	before=$(rss_kib "$KQ_BROKER_PID")
	for i in $(seq 30); do
		for j in 1 2 3 4 5 6 7 8 9 10; do
			exec {fd}<> "/dev/tcp/127.0.0.1/$KQ_PORT"
			printf '\177\377\377\377\000\022\000\000' >&"$fd" 2> /dev/null || true
			exec {fd}>&-
		done
	done
	sleep 0.5
	after=$(rss_kib "$KQ_BROKER_PID")
	echo "VmRSS $before kB -> $after kB"
	[ $((after - before)) -lt 16384 ] || fail "RSS grew by $((after - before)) kB"
	assert_broker_serves
}

@test "100 connections announcing 100 MiB frames: no up-front allocation, others served" {
	before=$(rss_kib "$KQ_BROKER_PID")
	coproc HOLD { timeout 60 "$KQ_PY" "$BAD" "$KQ_PORT" hold 100 104857599 3>&-; }
	hpid=$HOLD_PID
	hin=${HOLD[1]}
	track_pid "$hpid"
	read -r -t 20 line <&"${HOLD[0]}" || fail "hold helper did not start"
	[ "$line" = "held 100" ] || fail "hold: $line"
	sleep 0.5
	during=$(rss_kib "$KQ_BROKER_PID")
	echo "VmRSS $before kB -> $during kB with 100 pending 100 MiB frames"
	[ $((during - before)) -lt 102400 ] || fail "RSS grew by $((during - before)) kB"
	assert_broker_serves
	exec {hin}>&-
	wait_pid_gone "$hpid" 10 || kill "$hpid"
}

@test "200+ invalid topic names via CreateTopics and Metadata auto-create are all refused" {
	parent="$BATS_FILE_TMPDIR"
	tag="$$-$RANDOM"
	find "$parent" -path "$KQ_DATA" -prune -o -print | sort > "$BATS_TEST_TMPDIR/outside.before"
	find "$KQ_DATA" -mindepth 1 -maxdepth 2 \( -type d -o -path '*/__topics/*' \) |
		sort > "$BATS_TEST_TMPDIR/inside.before"
	run timeout 120 "$KQ_PY" "$BAD" "$KQ_PORT" names "$tag" "$BATS_TEST_TMPDIR/names"
	echo "$output"
	assert_status 0
	[ "$(wc -l < "$BATS_TEST_TMPDIR/names")" -ge 200 ]
	assert_broker_serves
	sleep 0.5
	# Nothing new next to the data dir, nor anywhere a '../' could reach.
	find "$parent" -path "$KQ_DATA" -prune -o -print | sort > "$BATS_TEST_TMPDIR/outside.after"
	diff "$BATS_TEST_TMPDIR/outside.before" "$BATS_TEST_TMPDIR/outside.after" |
		grep -v "$parent/pids\$" | grep '^>' && fail "new entries outside the data dir"
	run find /tmp / -maxdepth 1 -name "kqevil-$tag*"
	[ -z "$output" ] || fail "created outside: $output"
	# Inside the data dir only the two valid control topics appeared.
	find "$KQ_DATA" -mindepth 1 -maxdepth 2 \( -type d -o -path '*/__topics/*' \) |
		sort > "$BATS_TEST_TMPDIR/inside.after"
	comm -13 "$BATS_TEST_TMPDIR/inside.before" "$BATS_TEST_TMPDIR/inside.after" |
		grep -v -E "/(a{249}|auto-ok-$tag)(-[0-9]+)?\$" > "$BATS_TEST_TMPDIR/new" || true
	[ ! -s "$BATS_TEST_TMPDIR/new" ] || fail "new entries in the data dir: $(head -c 2000 "$BATS_TEST_TMPDIR/new")"
	# kq-topics agrees: only the controls are listed.
	run --separate-stderr kqt list
	assert_status 0
	for t in "${lines[@]}"; do
		[[ "$t" =~ ^[a-zA-Z0-9._-]{1,249}$ ]] || fail "listed an invalid topic: $t"
	done
}

@test "invalid names through kq-topics create and kcat -L -t are refused too" {
	tag="$$-$RANDOM"
	find "$BATS_FILE_TMPDIR" -path "$KQ_DATA" -prune -o -print | sort > "$BATS_TEST_TMPDIR/before"
	ls -a "$KQ_DATA" | sort > "$BATS_TEST_TMPDIR/data.before"
	for n in '..' '.' '../x' 'a/b' '../../../../../../../../../tmp/kqevil-'"$tag" \
		"$(printf 'x%.0s' $(seq 250))" 'with space' 'tab	x' "$(printf 'ctl\001x')" \
		'tópico' '日本' 'a:b' '$(id)' '~' '%2e%2e'; do
		run --separate-stderr kqt create "$n" -p 1
		[ "$status" -eq 2 ] || fail "kq-topics create '$n' exited $status, want 2: $stderr"
		[[ "$stderr" == *"invalid topic name"* ]] || fail "kq-topics create '$n': $stderr"
		if have kcat; then
			timeout 20 kcat -b "$KQ_BROKERS" -L -t "$n" -m 5 > /dev/null 2>&1 || true
		fi
	done
	find "$BATS_FILE_TMPDIR" -path "$KQ_DATA" -prune -o -print | sort > "$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" | grep -v "/pids\$" | grep '^>' &&
		fail "new entries next to the data dir"
	ls -a "$KQ_DATA" | sort > "$BATS_TEST_TMPDIR/data.after"
	comm -13 "$BATS_TEST_TMPDIR/data.before" "$BATS_TEST_TMPDIR/data.after" |
		grep -v -E '(checkpoint|\.tmp)' > "$BATS_TEST_TMPDIR/new" || true
	[ ! -s "$BATS_TEST_TMPDIR/new" ] || fail "new in data dir: $(cat "$BATS_TEST_TMPDIR/new")"
	[ -z "$(find /tmp -maxdepth 1 -name "kqevil-$tag*")" ]
	assert_broker_serves
}

@test "topic names that collide in metric names (a.b vs a_b) are refused" {
	create_topic coll.name -p 1
	run --separate-stderr kqt create coll_name -p 1
	assert_status 1
	[[ "$stderr" == *"collides with existing topic"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt list
	assert_status 0
	grep -qxF coll.name <<< "$output" || fail "coll.name is not listed: $output"
	! grep -qxF coll_name <<< "$output" || fail "coll_name was created next to coll.name"
}
