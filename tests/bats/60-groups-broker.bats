#!/usr/bin/env bats
# Consumer groups against kq-broker with real clients: kafka-python commits
# and resumes, kcat -G members split partitions and take over a dead member's
# share, offsets survive kill -9, ListGroups/DescribeGroups show members.

bats_require_minimum_version 1.5.0
load helpers

GKP="$BATS_TEST_DIRNAME/../interop/group_kp.py"
GHELD="$BATS_TEST_DIRNAME/../interop/group_held.py"

# Short timeouts keep the file fast: sessions of 6 s, a short first-join delay.
BROKER_ARGS=(-X group.min.session.timeout.ms=1000 -X group.initial.rebalance.delay.ms=300)

setup_file() {
	start_broker "${BROKER_ARGS[@]}"
}

need_clients() {
	have kcat || skip "kcat is not installed"
	have_py_module kafka || skip "python3-kafka is not installed"
}

gkp() {
	timeout -k 5 60 "$KQ_PY" "$GKP" "$@"
}

# produce_lines TOPIC PARTITION FIRST LAST: values FIRST..LAST, one record each.
produce_lines() {
	seq "$3" "$4" | timeout 30 kcat -b "$KQ_BROKERS" -P -t "$1" -p "$2" -X acks=all
}

# kcat_member GROUP TOPIC NAME [SESSION_MS]: background kcat -G; records to NAME.out,
# log to NAME.err.  Not under timeout(1): the tests kill -9 the member itself
# (teardown_file kills leftovers).
kcat_member() {
	local d="$BATS_FILE_TMPDIR"
	kcat -b "$KQ_BROKERS" -G "$1" "$2" -u -f '%p %o %s\n' \
		-X auto.offset.reset=earliest -X session.timeout.ms="${4:-6000}" \
		-X heartbeat.interval.ms=500 -X enable.auto.commit=true \
		-X auto.commit.interval.ms=200 \
		> "$d/$3.out" 2> "$d/$3.err" < /dev/null 3>&- &
	track_pid "$!"
	echo "$!" > "$d/$3.pid"
}

# Partitions (sorted, space-separated) of the last "assigned:" line of a kcat member.
kcat_assigned() {
	grep 'assigned:' "$BATS_FILE_TMPDIR/$1.err" | tail -n 1 | sed 's/.*assigned://' |
		grep -o '\[[0-9]*\]' | tr -d '[]' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# Last kcat event line is an assignment (not a revoke still waiting for the next join).
kcat_settled() {
	local last
	last=$(grep 'rebalanced' "$BATS_FILE_TMPDIR/$1.err" | tail -n 1)
	[[ "$last" == *"assigned:"* ]]
}

# wait_split A B WANT: until members A and B hold disjoint sets whose union is WANT.
wait_split() {
	local i a b
	for ((i = 0; i < 300; i++)); do
		if kcat_settled "$1" && kcat_settled "$2"; then
			a=$(kcat_assigned "$1")
			b=$(kcat_assigned "$2")
			if [ -n "$a" ] && [ -n "$b" ] &&
				[ "$(echo "$a" "$b" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')" = "$3" ]; then
				return 0
			fi
		fi
		sleep 0.1
	done
	echo "no split of '$3': $1 has '$(kcat_assigned "$1")', $2 has '$(kcat_assigned "$2")'"
	cat "$BATS_FILE_TMPDIR/$1.err" "$BATS_FILE_TMPDIR/$2.err"
	return 1
}

# wait_lines N FILES...: until the files hold N lines together.
wait_lines() {
	local n=$1 i
	shift
	for ((i = 0; i < 300; i++)); do
		[ "$(cat "$@" | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "expected $n lines, have $(cat "$@" | wc -l)"
	return 1
}

stop_member() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/$1.pid")
	kill -TERM "$pid" 2> /dev/null || true
	wait_pid_gone "$pid" 10 || kill -9 "$pid" 2> /dev/null
	reap "$pid"
}

@test "kafka-python commits and a second consumer of the group resumes right after" {
	need_clients
	create_topic g-resume -p 1
	produce_lines g-resume 0 1 100
	run --separate-stderr gkp consume "$KQ_BROKERS" g-resume-grp g-resume 40
	assert_status 0
	[ "$(echo "$output" | wc -l)" -eq 40 ] || fail "$output"
	[ "$(echo "$output" | head -n 1)" = "0 0 1" ] || fail "$output"
	[ "$(echo "$output" | tail -n 1)" = "0 39 40" ] || fail "$output"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 40" ] || fail "committed: $output"
	run --separate-stderr gkp consume "$KQ_BROKERS" g-resume-grp g-resume 60
	assert_status 0
	[ "$(echo "$output" | head -n 1)" = "0 40 41" ] || fail "$output"
	[ "$(echo "$output" | awk '{print $3}' | tr '\n' ' ')" = "$(seq 41 100 | tr '\n' ' ')" ] ||
		fail "$output"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 100" ] || fail "committed: $output"
}

@test "two kcat -G members split a 4-partition topic without overlap; LeaveGroup hands over" {
	need_clients
	create_topic g-split -p 4
	# Sessions longer than the waits below: only LeaveGroup can move partitions.
	kcat_member g-split-grp g-split m1 60000
	kcat_member g-split-grp g-split m2 60000
	wait_split m1 m2 "0 1 2 3"
	for p in 0 1 2 3; do
		produce_lines g-split "$p" $((p * 1000 + 1)) $((p * 1000 + 50))
	done
	wait_lines 200 "$BATS_FILE_TMPDIR/m1.out" "$BATS_FILE_TMPDIR/m2.out"
	a=" $(kcat_assigned m1) "
	b=" $(kcat_assigned m2) "
	# Each member printed only its own partitions; together every record exactly once.
	while read -r p _; do
		[[ "$a" == *" $p "* ]] || fail "m1 got partition $p, owns '$a'"
	done < "$BATS_FILE_TMPDIR/m1.out"
	while read -r p _; do
		[[ "$b" == *" $p "* ]] || fail "m2 got partition $p, owns '$b'"
	done < "$BATS_FILE_TMPDIR/m2.out"
	got=$(cat "$BATS_FILE_TMPDIR/m1.out" "$BATS_FILE_TMPDIR/m2.out" | awk '{print $3}' | sort -n)
	want=$(for p in 0 1 2 3; do seq $((p * 1000 + 1)) $((p * 1000 + 50)); done | sort -n)
	[ "$got" = "$want" ] || fail "records differ: $(diff <(echo "$want") <(echo "$got") | head)"
	# A clean exit (LeaveGroup) rebalances at once, without waiting for the session.
	stop_member m2
	for ((i = 0; i < 300; i++)); do
		kcat_settled m1 && [ "$(kcat_assigned m1)" = "0 1 2 3" ] && break
		sleep 0.1
	done
	[ "$(kcat_assigned m1)" = "0 1 2 3" ] || fail "m1 has '$(kcat_assigned m1)' after m2 left"
	stop_member m1
}

@test "ListGroups and DescribeGroups show a live kafka-python member" {
	need_clients
	create_topic g-desc -p 2
	ready="$BATS_FILE_TMPDIR/desc.ready"
	timeout -k 5 120 "$KQ_PY" "$GKP" hold "$KQ_BROKERS" g-desc-grp g-desc "$ready" \
		> /dev/null 2> "$BATS_FILE_TMPDIR/desc.err" < /dev/null 3>&- &
	pid=$!
	track_pid "$pid"
	for ((i = 0; i < 300; i++)); do
		[ -s "$ready" ] && break
		sleep 0.1
	done
	[ "$(cat "$ready")" = "0 1" ] || fail "assignment: $(cat "$ready" 2>&1) $(cat "$BATS_FILE_TMPDIR/desc.err")"
	run --separate-stderr gkp describe "$KQ_BROKERS" g-desc-grp
	kill -TERM "$pid"
	wait_pid_gone "$pid" 10 || kill -9 "$pid"
	reap "$pid"
	assert_status 0
	"$KQ_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert ["g-desc-grp", "consumer"] in d["groups"], d
assert d["error_code"] == 0 and d["state"] == "Stable", d
assert d["protocol_type"] == "consumer" and d["protocol"] == "range", d
assert len(d["members"]) == 1, d
m = d["members"][0]
assert m["client_id"] == "kq-test-kp", m
assert m["member_id"].startswith("kq-test-kp-"), m
assert m["client_host"] == "/127.0.0.1", m
assert m["assignment"] == {"g-desc": [0, 1]}, m
' "$output"
}

@test "a killed member's partitions move to the survivor after its session timeout" {
	need_clients
	create_topic g-fail -p 4
	kcat_member g-fail-grp g-fail f1
	kcat_member g-fail-grp g-fail f2
	wait_split f1 f2 "0 1 2 3"
	kill -9 "$(cat "$BATS_FILE_TMPDIR/f2.pid")"
	reap "$(cat "$BATS_FILE_TMPDIR/f2.pid")"
	for ((i = 0; i < 300; i++)); do
		kcat_settled f1 && [ "$(kcat_assigned f1)" = "0 1 2 3" ] && break
		sleep 0.1
	done
	[ "$(kcat_assigned f1)" = "0 1 2 3" ] || fail "survivor has '$(kcat_assigned f1)': $(cat "$BATS_FILE_TMPDIR/f1.err")"
	# The survivor now reads every partition.
	for p in 0 1 2 3; do
		produce_lines g-fail "$p" $((p * 100 + 1)) $((p * 100 + 5))
	done
	wait_lines 20 "$BATS_FILE_TMPDIR/f1.out"
	got=$(awk '{print $3}' "$BATS_FILE_TMPDIR/f1.out" | sort -n | tr '\n' ' ')
	want=$(for p in 0 1 2 3; do seq $((p * 100 + 1)) $((p * 100 + 5)); done | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "survivor read '$got'"
	stop_member f1
}

@test "held JoinGroups keep response order; a closed connection's held join is dropped" {
	have_py_module kafka || skip "python3-kafka is not installed"
	run --separate-stderr timeout -k 5 60 "$KQ_PY" "$GHELD" held "$KQ_PORT" g-held-grp
	assert_status 0
	[ "$output" = ok ] || fail "$output"
	pid_alive "$KQ_BROKER_PID" || fail "broker died"
	run --separate-stderr gkp describe "$KQ_BROKERS" g-held-grp
	assert_status 0
	[[ "$output" == *'"state": "CompletingRebalance"'* ]] || fail "$output"
}

@test "committed offsets survive kill -9 of the broker" {
	need_clients
	create_topic g-crash -p 3
	for p in 0 1 2; do
		produce_lines g-crash "$p" 1 10
	done
	run --separate-stderr gkp consume "$KQ_BROKERS" g-crash-grp g-crash 30
	assert_status 0
	run --separate-stderr gkp committed "$KQ_BROKERS" g-crash-grp g-crash 3
	assert_status 0
	[ "$output" = "$(printf '0 10\n1 10\n2 10')" ] || fail "before: $output"
	kill9_broker
	start_broker "${BROKER_ARGS[@]}"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-crash-grp g-crash 3
	assert_status 0
	[ "$output" = "$(printf '0 10\n1 10\n2 10')" ] || fail "after restart: $output"
	# The first test's group too.
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 100" ] || fail "g-resume-grp after restart: $output"
}

@test "DeleteGroups and OffsetDelete remove offsets, also across a restart" {
	need_clients
	# The previous test restarted the broker in its own subshell: restart to learn the port.
	stop_broker
	start_broker "${BROKER_ARGS[@]}"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 100" ] || fail "before: $output"
	run --separate-stderr gkp delete "$KQ_BROKERS" g-resume-grp
	assert_status 0
	[ "$output" = "g-resume-grp NoError" ] || fail "delete: $output"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 -1" ] || fail "after delete: $output"
	run --separate-stderr timeout -k 5 60 "$KQ_PY" "$GHELD" offset-delete "$KQ_PORT" \
		g-crash-grp g-crash 0
	assert_status 0
	[ "$output" = "0 0" ] || fail "OffsetDelete: $output"
	run --separate-stderr timeout -k 5 60 "$KQ_PY" "$GHELD" offset-delete "$KQ_PORT" \
		no-such-grp g-crash 0
	assert_status 0
	[ "$output" = "69 -" ] || fail "OffsetDelete of an unknown group: $output"
	stop_broker
	start_broker "${BROKER_ARGS[@]}"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-resume-grp g-resume 1
	assert_status 0
	[ "$output" = "0 -1" ] || fail "after restart: $output"
	run --separate-stderr gkp describe "$KQ_BROKERS" g-crash-grp
	assert_status 0
	[[ "$output" != *'"g-resume-grp"'* ]] || fail "still listed: $output"
	[[ "$output" == *'["g-crash-grp", "consumer"]'* ]] || fail "$output"
	[[ "$output" == *'"state": "Empty"'* ]] || fail "$output"
	run --separate-stderr gkp committed "$KQ_BROKERS" g-crash-grp g-crash 3
	assert_status 0
	[ "$output" = "$(printf '0 -1\n1 10\n2 10')" ] || fail "g-crash-grp: $output"
}

@test "the broker stops cleanly, with no sanitizer report in its log" {
	stop_broker || fail "kq-broker needed SIGKILL"
	if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$(broker_log)"; then
		fail "sanitizer report in $(broker_log)"
	fi
}
