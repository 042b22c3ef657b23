#!/usr/bin/env bats
# What each of these flags does, seen from outside: kq-produce --linger,
# --progress and --no-progress; kq-topics describe --overrides,
# --under-min-isr, --at-min-isr, --unavailable; kq-groups reset
# --to-datetime and --to-current; kq-broker --check-config, --log-format,
# --advertise.  Each test fails when its flag is ignored.  The broker tests
# start brokers of their own and come last.

bats_require_minimum_version 1.5.0
load helpers

GKP="$BATS_TEST_DIRNAME/../interop/group_kp.py"

setup_file() {
	# A broker-level setting, so --overrides has a "broker" source to leave out.
	start_broker -X log.roll.hours=48
}

kqg() {
	timeout -k 5 "$KQ_TOOL_TIMEOUT" kq-groups "$@"
}

# wait_for WHAT CMD...: run CMD until it succeeds, 400 times at most, 0.1 s
# apart (over 40 s: the progress test waits for a 10 s tick).
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < 400; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out waiting for $what"
}

# holds TOPIC WANT: the topic holds exactly the records WANT (one a line).
holds() {
	[ "$(kqc -t "$1" -e 2> /dev/null)" = "$2" ]
}

# committed GROUP: "TOPIC PARTITION OFFSET" lines of the group's committed
# offsets as kq-groups describe reports them ("-" where none).
committed() {
	kqg describe "$1" --json 2> /dev/null | "$KQ_PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    c = r["current_offset"]
    print(r["topic"], r["partition"], "-" if c is None else c)'
}

# ---- kq-produce --linger ----

# bg_produce NAME [--tty] ARGS...: kq-produce ARGS in the background, reading
# the fifo $BATS_TEST_TMPDIR/NAME (open it for writing next), with stdout in
# NAME.out and stderr in NAME.err; with --tty under script(1), so stdout and
# stderr are a terminal whose output lands in NAME.out.  Sets BG_PID.
bg_produce() {
	local f=$BATS_TEST_TMPDIR/$1
	shift
	mkfifo "$f"
	if [ "$1" = --tty ]; then
		shift
		script -qefc "exec kq-produce $(printf '%q ' "$@") < $(printf '%q' "$f")" \
			/dev/null < /dev/null > "$f.out" 2> "$f.err" 3>&- &
	else
		kq-produce "$@" < "$f" > "$f.out" 2> "$f.err" 3>&- &
	fi
	BG_PID=$!
	track_pid "$BG_PID"
}

@test "--linger 1h holds a record back until input ends; a record after it with the default linger overtakes it" {
	create_topic linger -p 1
	bg_produce in -t linger --linger 1h -T
	exec 4> "$BATS_TEST_TMPDIR/in"
	echo held >&4
	# -T shows the record has been read, so its batch is open from now on.
	wait_for "kq-produce to read the record" grep -qx held "$BATS_TEST_TMPDIR/in.out"
	# Sent later, with the default linger (5ms), this one arrives first.
	echo quick | kqp -t linger
	wait_for "the quick record" holds linger quick
	run --separate-stderr kqc -t linger -e
	[ "$output" = quick ] || fail "topic holds: $output (the lingering record was sent)"
	pid_alive "$BG_PID" || fail "kq-produce exited: $(cat "$BATS_TEST_TMPDIR/in.err")"
	# End of input sends it at once, not after the hour.
	exec 4>&-
	wait "$BG_PID"
	holds linger "$(printf 'quick\nheld')" ||
		fail "after end of input: $(kqc -t linger -e) / $(cat "$BATS_TEST_TMPDIR/in.err")"
}

# count TOPIC: how many records the topic holds.
count() {
	kqc -t "$1" -e 2> /dev/null | wc -l
}

@test "--linger is the longest wait: full batches go out at once, the rest waits for the end of input" {
	create_topic lingerfull -p 1
	bg_produce in -t lingerfull --linger 1h -X batch.size=1KiB
	exec 4> "$BATS_TEST_TMPDIR/in"
	# 40 records of 51 bytes: two or more full 1 KiB batches, and a rest.
	seq -f '%050g' 1 40 >&4
	wait_for "the full batches" eval '[ "$(count lingerfull)" -gt 0 ]'
	n=$(count lingerfull)
	[ "$n" -lt 40 ] || fail "all $n records sent while input is open"
	pid_alive "$BG_PID" || fail "kq-produce exited: $(cat "$BATS_TEST_TMPDIR/in.err")"
	exec 4>&-
	wait "$BG_PID"
	[ "$(kqc -t lingerfull -e)" = "$(seq -f '%050g' 1 40)" ] || fail "topic holds $(count lingerfull)"
}

@test "--linger 1s: a record goes out once the linger passes, while input stays open" {
	create_topic linger2 -p 1
	bg_produce in -t linger2 --linger 1s
	exec 4> "$BATS_TEST_TMPDIR/in"
	echo first >&4
	wait_for "the lingered record" holds linger2 first
	pid_alive "$BG_PID" || fail "kq-produce exited: $(cat "$BATS_TEST_TMPDIR/in.err")"
	echo second >&4
	exec 4>&-
	wait "$BG_PID"
	holds linger2 "$(printf 'first\nsecond')"
}

@test "--linger without a unit or with a bad value is a usage error (exit 2)" {
	for bad in 5 soon -1s 10x ''; do
		run --separate-stderr kqp -t linger --linger "$bad" < /dev/null
		assert_status 2
		[[ "$stderr" == *"bad duration '$bad' for --linger"* ]] || fail "stderr: $stderr"
	done
	run --separate-stderr kqp -t linger --linger 250ms --show-config
	assert_status 0
	[[ "$output" == *"linger = 250ms"* ]] || fail "show-config: $output"
}

# ---- kq-produce --progress / --no-progress ----

@test "--progress writes progress lines to a stderr that is not a terminal; without it there are none" {
	create_topic progress -p 1
	bg_produce plain -t progress
	plain=$BG_PID
	bg_produce forced -t progress --progress
	forced=$BG_PID
	exec 4> "$BATS_TEST_TMPDIR/plain" 5> "$BATS_TEST_TMPDIR/forced"
	seq 1 3 >&4
	seq 4 6 >&5
	# Every 10 s; the line counts what has been read and acknowledged.
	wait_for "a progress line" grep -Eq \
		'^kq-produce: 3 read  3 acked  0 failed  [0-9.]+k rec/s  [0-9.]+ MB/s$' \
		"$BATS_TEST_TMPDIR/forced.err"
	exec 4>&- 5>&-
	wait "$plain"
	wait "$forced"
	# Plain lines, never redrawn in place.
	! grep -q $'[\r\033]' "$BATS_TEST_TMPDIR/forced.err" ||
		fail "control characters: $(od -c "$BATS_TEST_TMPDIR/forced.err" | head -n 5)"
	# The other one ran longer and printed nothing.
	[ ! -s "$BATS_TEST_TMPDIR/plain.err" ] || fail "default stderr: $(cat "$BATS_TEST_TMPDIR/plain.err")"
}

# count_redraws FILE: how many times the progress line with 3 records read
# and acknowledged was drawn in place in FILE.
count_redraws() {
	tr '\r' '\n' < "$1" | grep -c $'^\033\\[Kkq-produce: 3 read  3 acked  0 failed' || true
}

@test "on a terminal the progress line is redrawn in place; --no-progress shows none" {
	have script || skip "script (util-linux) is not installed"
	create_topic progtty -p 1
	bg_produce quiet --tty -t progtty --no-progress
	quiet=$BG_PID
	exec 4> "$BATS_TEST_TMPDIR/quiet"
	seq 1 3 >&4
	wait_for "the --no-progress records" holds progtty "$(seq 1 3)"
	bg_produce loud --tty -t progtty
	loud=$BG_PID
	exec 5> "$BATS_TEST_TMPDIR/loud"
	seq 4 6 >&5
	# Four redraws (4 a second) of the younger one: the older has had longer.
	wait_for "four redraws" eval '[ "$(count_redraws "$BATS_TEST_TMPDIR/loud.out")" -ge 4 ]'
	exec 4>&- 5>&-
	wait "$quiet"
	wait "$loud"
	# --no-progress: no escape sequence at all, only the summary of a terminal.
	! grep -q $'\033' "$BATS_TEST_TMPDIR/quiet.out" ||
		fail "--no-progress drew: $(od -c "$BATS_TEST_TMPDIR/quiet.out" | head -n 5)"
	grep -q '^kq-produce: 3 records (0.0 MB) acknowledged in ' "$BATS_TEST_TMPDIR/quiet.out"
	# At exit the line is cleared and replaced by the summary.
	[[ "$(< "$BATS_TEST_TMPDIR/loud.out")" == \
		*$'\r\033[Kkq-produce: 3 records (0.0 MB) acknowledged in '*$'s\r' ]] ||
		fail "not replaced at exit: $(tail -c 80 "$BATS_TEST_TMPDIR/loud.out" | od -c)"
}

# ---- kq-topics describe filters ----

@test "describe --overrides shows only the configs set on the topic, not broker or default ones" {
	create_topic ovr -p 1 -c retention.ms=3600000 -c cleanup.policy=compact
	create_topic novr -p 1
	run --separate-stderr kqt describe ovr --configs --no-headers
	assert_status 0
	# The broker's log.roll.hours=48 and a built-in default are shown here only.
	[[ "$output" =~ ovr\ +segment\.ms=172800000\ +broker ]] || fail "no broker source: $output"
	[[ "$output" =~ ovr\ +max\.message\.bytes=[0-9]+\ +default ]] || fail "no default source: $output"
	run --separate-stderr kqt describe ovr --overrides --no-headers
	assert_status 0
	[ "$(printf '%s\n' "$output" | sort | tr -s ' ')" = \
		"$(printf 'ovr cleanup.policy=compact topic\novr retention.ms=3600000 topic')" ] ||
		fail "overrides: $output"
	# The same with --configs spelled out, and as JSON.
	run --separate-stderr kqt describe ovr --configs --overrides --json
	assert_status 0
	[ "$(printf '%s\n' "$output" | "$KQ_PY" -c '
import json, sys
print(sorted((r["key"], r["value"], r["source"]) for r in map(json.loads, sys.stdin)))')" = \
		"[('cleanup.policy', 'compact', 'topic'), ('retention.ms', '3600000', 'topic')]" ] ||
		fail "JSON: $output"
	# Kafka's names for the three sources, as a Kafka admin client sees them.
	if have_py_module confluent_kafka; then
		run "$KQ_PY" -c '
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
c = list(a.describe_configs([ConfigResource("topic", "ovr")]).values())[0].result(30)
for k in ("retention.ms", "segment.ms", "segment.bytes"):
    print(k, c[k].source, c[k].is_default)' "$KQ_BROKERS"
		[ "$output" = "$(printf 'retention.ms 1 False\nsegment.ms 4 False\nsegment.bytes 5 True')" ] ||
			fail "confluent-kafka sees: $output"
	fi
	# A topic without overrides: nothing but the header.
	run --separate-stderr kqt describe novr --overrides
	assert_status 0
	[ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" =~ ^TOPIC\ +CONFIG\ +SOURCE$ ]] ||
		fail "novr: $output"
	# An override removed is no longer shown.
	run --separate-stderr kqt alter ovr --delete-config cleanup.policy
	assert_status 0
	run --separate-stderr kqt describe ovr --overrides --no-headers
	[ "$(printf '%s\n' "$output" | tr -s ' ')" = "ovr retention.ms=3600000 topic" ] ||
		fail "after --delete-config: $output"
}

# rows OUTPUT: "TOPIC PARTITION" of each describe row (header left out).
rows() {
	printf '%s\n' "$1" | awk 'NF { print $1, $2 }'
}

@test "--under-min-isr, --at-min-isr, --unavailable: standalone partitions by ISR and leader" {
	# Standalone: one replica, always in the ISR, always led by this broker.
	create_topic isr-high -p 2 -c min.insync.replicas=2
	create_topic isr-one -p 1 -c min.insync.replicas=1
	create_topic isr-dflt -p 1
	set -- isr-high isr-one isr-dflt
	# Rows come sorted by topic.
	run --separate-stderr kqt describe "$@" --no-headers
	assert_status 0
	[ "$(rows "$output")" = "$(printf 'isr-dflt 0\nisr-high 0\nisr-high 1\nisr-one 0')" ] ||
		fail "unfiltered: $output"
	# ISR 1 below min.insync.replicas 2: under; 1 of 1 (also the default): at.
	run --separate-stderr kqt describe "$@" --under-min-isr --no-headers
	assert_status 0
	[ "$(rows "$output")" = "$(printf 'isr-high 0\nisr-high 1')" ] || fail "under: $output"
	run --separate-stderr kqt describe "$@" --at-min-isr --no-headers
	assert_status 0
	[ "$(rows "$output")" = "$(printf 'isr-dflt 0\nisr-one 0')" ] || fail "at: $output"
	# Every partition has a leader.
	run --separate-stderr kqt describe "$@" --unavailable
	assert_status 0
	[ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" == TOPIC* ]] || fail "unavailable: $output"
	# Filters together: a partition in either state.
	run --separate-stderr kqt describe "$@" --under-min-isr --at-min-isr --unavailable --no-headers
	[ "$(rows "$output")" = "$(printf 'isr-dflt 0\nisr-high 0\nisr-high 1\nisr-one 0')" ] ||
		fail "combined: $output"
	# All topics: only isr-high is short of replicas.
	run --separate-stderr kqt describe --under-min-isr --json
	assert_status 0
	[ "$(printf '%s\n' "$output" | "$KQ_PY" -c '
import json, sys
print(sorted((r["topic"], r["partition"], r["isr"]) for r in map(json.loads, sys.stdin)))')" = \
		"[('isr-high', 0, [0]), ('isr-high', 1, [0])]" ] || fail "all topics: $output"
	# Lowering min.insync.replicas moves the topic from under to at.
	run --separate-stderr kqt alter isr-high -c min.insync.replicas=1
	assert_status 0
	run --separate-stderr kqt describe "$@" --under-min-isr --no-headers
	[ -z "$output" ] || fail "under after alter: $output"
	run --separate-stderr kqt describe "$@" --at-min-isr --no-headers
	[ "$(rows "$output")" = "$(printf 'isr-dflt 0\nisr-high 0\nisr-high 1\nisr-one 0')" ] ||
		fail "at after alter: $output"
	run --separate-stderr kqt describe isr-one --configs --under-min-isr
	assert_status 2
}

# ---- kq-groups reset --to-datetime / --to-current ----

@test "reset --to-datetime: the dry run plans the first offset at or after the time (UTC), --execute commits it" {
	create_topic rdt -p 2
	# Partition 0: 2024-01-01, 2024-05-01T00:00Z, 2024-06-01; partition 1:
	# 2024-04-30T23:59:59.999Z, 2024-05-02.
	printf '%s\n' \
		'{"partition":0,"value":"a","timestamp":1704067200000}' \
		'{"partition":0,"value":"b","timestamp":1714521600000}' \
		'{"partition":0,"value":"c","timestamp":1717200000000}' \
		'{"partition":1,"value":"d","timestamp":1714521599999}' \
		'{"partition":1,"value":"e","timestamp":1714608000000}' |
		kqp -t rdt -f json
	# A time without a zone is UTC, whatever the local zone.
	TZ=JST-9 run --separate-stderr kqg reset gdt -t rdt --to-datetime 2024-05-01
	assert_status 0
	[[ "$stderr" == *"resetting to the first record at or after 2024-05-01T00:00:00.000Z"* ]] ||
		fail "stderr: $stderr"
	[[ "$stderr" == *"dry run; add --execute to apply"* ]] || fail "stderr: $stderr"
	[[ "${lines[1]}" =~ ^rdt\ +0\ +-\ +1$ ]] && [[ "${lines[2]}" =~ ^rdt\ +1\ +-\ +1$ ]] ||
		fail "plan: $output"
	run committed gdt
	[ -z "$output" ] || fail "the dry run committed: $output"
	# The same instant written in another zone, applied.
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 2024-05-01T09:00:00+09:00 --execute
	assert_status 0
	[[ "$stderr" == *"at or after 2024-05-01T00:00:00.000Z"* ]] || fail "stderr: $stderr"
	run committed gdt
	[ "$output" = "$(printf 'rdt 0 1\nrdt 1 1')" ] || fail "committed: $output"
	if have_py_module kafka; then
		run timeout -k 5 60 "$KQ_PY" "$GKP" committed "$KQ_BROKERS" gdt rdt 2
		[ "$output" = "$(printf '0 1\n1 1')" ] || fail "kafka-python sees: $output"
	fi
	# One millisecond later; before every record; after every record (the end).
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 2024-05-01T00:00:00.001Z --execute
	assert_status 0
	[ "$(committed gdt)" = "$(printf 'rdt 0 2\nrdt 1 1')" ] || fail "+1ms: $(committed gdt)"
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 2023-12-31 --execute
	[ "$(committed gdt)" = "$(printf 'rdt 0 0\nrdt 1 0')" ] || fail "2023: $(committed gdt)"
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 2025-01-01 --execute
	[ "$(committed gdt)" = "$(printf 'rdt 0 3\nrdt 1 2')" ] || fail "2025: $(committed gdt)"
	# Unix milliseconds, and a time relative to now (every record is older).
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 1714521600000 --execute
	[ "$(committed gdt)" = "$(printf 'rdt 0 1\nrdt 1 1')" ] || fail "Unix ms: $(committed gdt)"
	run --separate-stderr kqg reset gdt -t rdt --to-datetime -1h
	[[ "${lines[1]}" =~ ^rdt\ +0\ +1\ +3$ ]] && [[ "${lines[2]}" =~ ^rdt\ +1\ +1\ +2$ ]] ||
		fail "-1h plan: $output"
	run --separate-stderr kqg reset gdt -t rdt --to-datetime 'May 1st'
	assert_status 2
	[[ "$stderr" == *"bad --to-datetime 'May 1st'"* ]] || fail "stderr: $stderr"
}

@test "reset --to-current keeps committed offsets and moves partitions without one to the end" {
	create_topic rcur -p 3
	for p in 0 1 2; do seq 1 5 | kqp -t rcur -p "$p"; done
	run --separate-stderr kqg reset gcur -t rcur:0 --to-offset 2 --execute
	assert_status 0
	run --separate-stderr kqg reset gcur -t rcur:1 --to-offset 4 --execute
	assert_status 0
	# The log grows past the committed offsets.
	seq 6 8 | kqp -t rcur -p 0
	run --separate-stderr kqg reset gcur -t rcur --to-current
	assert_status 0
	[[ "$stderr" == *"dry run; add --execute to apply"* ]] || fail "stderr: $stderr"
	[[ "${lines[1]}" =~ ^rcur\ +0\ +2\ +2$ ]] && [[ "${lines[2]}" =~ ^rcur\ +1\ +4\ +4$ ]] &&
		[[ "${lines[3]}" =~ ^rcur\ +2\ +-\ +5$ ]] || fail "plan: $output"
	[ "$(committed gcur)" = "$(printf 'rcur 0 2\nrcur 1 4')" ] ||
		fail "the dry run committed: $(committed gcur)"
	run --separate-stderr kqg reset gcur -t rcur --to-current --execute
	assert_status 0
	[ "$(committed gcur)" = "$(printf 'rcur 0 2\nrcur 1 4\nrcur 2 5')" ] ||
		fail "committed: $(committed gcur)"
	if have_py_module kafka; then
		run timeout -k 5 60 "$KQ_PY" "$GKP" committed "$KQ_BROKERS" gcur rcur 3
		[ "$output" = "$(printf '0 2\n1 4\n2 5')" ] || fail "kafka-python sees: $output"
	fi
	# A consumer of the group starts there.
	run --separate-stderr kqc -g gcur -t rcur -e -f '%p:%s\n'
	assert_status 0
	[ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "0:3 0:4 0:5 0:6 0:7 0:8 1:5 " ] ||
		fail "consumed: $output"
}

# ---- kq-broker --check-config, --log-format, --advertise ----

# spawn_broker LOG ARGS...: another broker on 127.0.0.1:0 (unless ARGS say
# --listen) with its stderr in LOG; sets SPAWN_PID and SPAWN_PORT (from the
# ready line, text or JSON).
spawn_broker() {
	local log=$1 i
	shift
	kq-broker --listen 127.0.0.1:0 "$@" < /dev/null > /dev/null 2> "$log" 3>&- &
	SPAWN_PID=$!
	track_pid "$SPAWN_PID"
	SPAWN_PORT=
	for ((i = 0; i < KQ_READY_TIMEOUT * 20; i++)); do
		SPAWN_PORT=$(sed -n 's/.*ready on [^ ]*:\([0-9][0-9]*\) (node.*/\1/p' "$log")
		[ -n "$SPAWN_PORT" ] && return 0
		pid_alive "$SPAWN_PID" || break
		sleep 0.05
	done
	fail "no ready line: $(cat "$log")"
}

@test "--check-config: a valid configuration exits 0 without serving, an invalid one exits 2 naming the fault" {
	d=$BATS_TEST_TMPDIR
	printf '%s\n' 'listeners=PLAINTEXT://127.0.0.1:19092' 'node.id=7' 'log.flush=os' > "$d/ok.properties"
	run --separate-stderr timeout 20 kq-broker --check-config --config "$d/ok.properties" \
		-l 127.0.0.1:19093 -d "$d/data"
	assert_status 0
	# Flags override the file; nothing is created, nothing listens.
	[ "$output" = "kq-broker: configuration OK (listen 127.0.0.1:19093, data $d/data, node 7)" ] ||
		fail "stdout: $output"
	[[ "$stderr" != *"ready on"* ]] || fail "it served: $stderr"
	[ ! -e "$d/data" ] || fail "the data directory was created"
	# Bad values, from -X, from the file (with its line), from flags.
	run --separate-stderr kq-broker --check-config -X log.flush=sometimes
	assert_status 2
	[ "$stderr" = "kq-broker: bad value for log.flush: 'sometimes'" ] || fail "stderr: $stderr"
	[ -z "$output" ] || fail "stdout: $output"
	printf '%s\n' 'log.flush=os' 'num.partitions=x' > "$d/bad.properties"
	run --separate-stderr kq-broker --check-config --config "$d/bad.properties"
	assert_status 2
	[ "$stderr" = "kq-broker: $d/bad.properties:2: bad value for num.partitions: 'x'" ] ||
		fail "stderr: $stderr"
	run --separate-stderr kq-broker --check-config --config "$d/missing.properties"
	assert_status 2
	[[ "$stderr" == *"$d/missing.properties"*"No such file"* ]] || fail "stderr: $stderr"
	run --separate-stderr kq-broker --check-config --listen nowhere
	assert_status 2
	[[ "$stderr" == *"bad --listen 'nowhere'"* ]] || fail "stderr: $stderr"
	run --separate-stderr kq-broker --check-config -X num.partitions
	assert_status 2
	[[ "$stderr" == *"-X wants KEY=VALUE, got 'num.partitions'"* ]] || fail "stderr: $stderr"
	# An unknown key is a warning, as in Kafka; the rest is still valid.
	run --separate-stderr kq-broker --check-config -X no.such.key=1
	assert_status 0
	[[ "$stderr" == *"unknown property 'no.such.key' ignored"* ]] || fail "stderr: $stderr"
}

@test "--log-format text stamps every line; json makes every line one JSON object" {
	d=$BATS_TEST_TMPDIR
	spawn_broker "$d/text.log" -d "$d/data-text" --log-format text -X no.such.key=1
	stop_broker "$SPAWN_PID"
	# stderr is a file: each line starts with a UTC timestamp.
	run grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z kq-broker: ' \
		"$d/text.log"
	[ "$output" = 0 ] || fail "unstamped lines: $(cat "$d/text.log")"
	grep -q ' kq-broker: warning: unknown property .no.such.key. ignored$' "$d/text.log"
	grep -q ' kq-broker: ready on 127\.0\.0\.1:' "$d/text.log"
	grep -q ' kq-broker: stopped$' "$d/text.log"

	spawn_broker "$d/json.log" -d "$d/data-json" --log-format json -X no.such.key=1
	echo x | kqp -b "127.0.0.1:$SPAWN_PORT" -t jlog --create
	stop_broker "$SPAWN_PID"
	run "$KQ_PY" -c '
import json, re, sys
levels = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert sorted(r) == ["level", "msg", "ts"], r
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]), r
    levels.append((r["level"], r["msg"].split(" ")[0]))
print(" ".join("%s:%s" % l for l in levels))' "$d/json.log"
	assert_status 0
	[[ "$output" == *"warning:unknown"*"info:ready"*"info:stopped" ]] ||
		fail "levels and messages: $output"
	run --separate-stderr kq-broker --log-format xml --check-config
	assert_status 2
	[[ "$stderr" == *"bad --log-format 'xml' (text or json)"* ]] || fail "stderr: $stderr"
}

# brokers_of JSON: the broker list of kcat -L -J output.
brokers_of() {
	printf '%s\n' "$1" | "$KQ_PY" -c 'import json, sys; print(json.load(sys.stdin)["brokers"])'
}

@test "--advertise: Metadata gives clients the advertised host and port, not the listen address" {
	have kcat || skip "kcat is not installed"
	d=$BATS_TEST_TMPDIR
	spawn_broker "$d/adv.log" -d "$d/data-adv" --advertise kq.example:19092 --id 3
	run --separate-stderr timeout 30 kcat -L -J -b "127.0.0.1:$SPAWN_PORT"
	stop_broker "$SPAWN_PID"
	assert_status 0
	run brokers_of "$output"
	[ "$output" = "[{'id': 3, 'name': 'kq.example:19092'}]" ] || fail "kcat -L brokers: $output"
	# Without it, the listen address.
	spawn_broker "$d/noadv.log" -d "$d/data-noadv" --id 3
	run --separate-stderr timeout 30 kcat -L -J -b "127.0.0.1:$SPAWN_PORT"
	stop_broker "$SPAWN_PID"
	assert_status 0
	run brokers_of "$output"
	[ "$output" = "[{'id': 3, 'name': '127.0.0.1:$SPAWN_PORT'}]" ] || fail "kcat -L brokers: $output"
	# Listening on all interfaces: the host name.
	spawn_broker "$d/any.log" -d "$d/data-any" --listen 0.0.0.0:0
	run --separate-stderr timeout 30 kcat -L -J -b "127.0.0.1:$SPAWN_PORT"
	stop_broker "$SPAWN_PID"
	assert_status 0
	run brokers_of "$output"
	[ "$output" = "[{'id': 0, 'name': '$(hostname):$SPAWN_PORT'}]" ] || fail "kcat -L brokers: $output"
}
