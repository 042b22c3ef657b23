#!/usr/bin/env bats
# kq-groups against real group members (kafka-python, kcat -G, kq-consume -g):
# list, describe with Kafka's columns, lag, reset (dry run, --execute,
# --export/--from-file, refused while members are active), delete,
# delete-offsets, usage errors.

bats_require_minimum_version 1.5.0
load helpers

GKP="$BATS_TEST_DIRNAME/../interop/group_kp.py"

setup_file() {
	start_broker -X group.min.session.timeout.ms=1000 -X group.initial.rebalance.delay.ms=0 \
		-X offsets.topic.num.partitions=3
}

gkp() {
	timeout -k 5 60 "$KQ_PY" "$GKP" "$@"
}

kqg() {
	timeout -k 5 60 kq-groups "$@"
}

# produce TOPIC PARTITION FIRST LAST
produce() {
	seq "$3" "$4" | kqp -t "$1" -p "$2"
}

# committed_are GROUP "TOPIC PARTITION OFFSET"...: the group's committed
# offsets, as kq-groups describe shows them, are exactly these.
committed_are() {
	local group=$1 want got
	shift
	want=$(printf '%s\n' "$@")
	got=$(kqg describe "$group" --no-headers 2> /dev/null | awk '{ print $2, $3, $4 }')
	[ "$got" = "$want" ] || fail "committed offsets of $group: '$got', want '$want'"
}

@test "lag counts the records produced after the last commit; describe shows Kafka's columns" {
	have_py_module kafka || skip "python3-kafka is not installed"
	create_topic lagt -p 2
	produce lagt 0 1 100
	produce lagt 1 101 150
	# kafka-python reads and commits all 150.
	run gkp consume "$KQ_BROKERS" glag lagt 150
	assert_status 0
	run --separate-stderr kqg lag glag
	assert_status 0
	[ "$output" = 0 ] || fail "lag after consuming everything: $output"
	produce lagt 0 1001 1030
	produce lagt 1 2001 2012
	run --separate-stderr kqg lag glag
	[ "$output" = 42 ] || fail "lag: $output"
	run --separate-stderr kqg lag glag --by partition
	[ "$output" = "$(printf 'lagt 0 30\nlagt 1 12')" ] || fail "by partition: $output"
	run --separate-stderr kqg lag glag --by topic
	[ "$output" = "lagt 42" ] || fail "by topic: $output"
	run --separate-stderr kqg describe glag
	assert_status 0
	[ "${lines[0]}" = "$(echo GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID)" ] ||
		[[ "${lines[0]}" =~ ^GROUP\ +TOPIC\ +PARTITION\ +CURRENT-OFFSET\ +LOG-END-OFFSET\ +LAG\ +CONSUMER-ID\ +HOST\ +CLIENT-ID$ ]] ||
		fail "header: ${lines[0]}"
	[[ "${lines[1]}" =~ ^glag\ +lagt\ +0\ +100\ +130\ +30\ +-\ +-\ +-$ ]] || fail "row: ${lines[1]}"
	[[ "${lines[2]}" =~ ^glag\ +lagt\ +1\ +50\ +62\ +12\ +-\ +-\ +-$ ]] || fail "row: ${lines[2]}"
	[[ "$stderr" == *"group 'glag' has no active members"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqg describe glag --json
	[ "$(printf '%s\n' "$output" | "$KQ_PY" -c 'import json,sys; print(sum(json.loads(l)["lag"] for l in sys.stdin))')" = 42 ]
	# A missing group among others: the others are still shown, exit 3.
	run --separate-stderr kqg describe no-such-group glag --no-headers
	assert_status 3
	[ "${#lines[@]}" -eq 2 ] || fail "describe with a missing group: $output"
	[[ "$stderr" == *"group 'no-such-group' does not exist"* ]] || fail "stderr: $stderr"
	# After a reset to the beginning, kafka-python re-reads all 192 records.
	run --separate-stderr kqg reset glag -t lagt --to-earliest --execute
	assert_status 0
	run --separate-stderr gkp consume "$KQ_BROKERS" glag lagt 192
	assert_status 0
	[ "$(printf '%s\n' "$output" | awk '{ print $3 }' | sort -n | tr '\n' ' ')" = \
		"$( (seq 1 150; seq 1001 1030; seq 2001 2012) | sort -n | tr '\n' ' ')" ] ||
		fail "kafka-python after the reset: $output"
	run --separate-stderr kqg lag glag
	[ "$output" = 0 ] || fail "lag after re-reading: $output"
}

@test "lag --by topic adds up each topic, also around partitions without a commit" {
	have_py_module kafka || skip "python3-kafka is not installed"
	create_topic mixa -p 2
	create_topic mixb -p 1
	produce mixa 0 1 10
	produce mixa 1 11 17
	produce mixb 0 1 5
	# Offsets for mixa partition 0 and mixb only, committed from outside.
	kqg reset gmix -t mixa:0 -t mixb --to-offset 2 --execute > /dev/null 2>&1
	# A kafka-python member holds both mixa partitions without committing:
	# mixa 1 is assigned but has no committed offset (lag unknown).
	"$KQ_PY" "$GKP" hold "$KQ_BROKERS" gmix mixa "$BATS_TEST_TMPDIR/kp.ready" \
		> /dev/null 2>&1 3>&- &
	kp=$!
	track_pid $kp
	for _ in $(seq 1 100); do
		[ "$(cat "$BATS_TEST_TMPDIR/kp.ready" 2> /dev/null)" = "0 1" ] && break
		sleep 0.2
	done
	[ "$(cat "$BATS_TEST_TMPDIR/kp.ready" 2> /dev/null)" = "0 1" ] ||
		fail "kafka-python holds '$(cat "$BATS_TEST_TMPDIR/kp.ready" 2> /dev/null)'"
	run --separate-stderr kqg lag gmix --by topic
	assert_status 0
	[ "$output" = "$(printf 'mixa 8\nmixb 3')" ] || fail "by topic: $output"
	run --separate-stderr kqg lag gmix --by partition
	[ "$output" = "$(printf 'mixa 0 8\nmixb 0 3')" ] || fail "by partition: $output"
	run --separate-stderr kqg lag gmix
	[ "$output" = 11 ] || fail "total: $output"
	run --separate-stderr kqg describe gmix --no-headers
	[[ "${lines[1]}" =~ ^gmix\ +mixa\ +1\ +-\ +7\ +-\ +[^-] ]] || fail "describe: $output"
	kill "$kp"
	wait_pid_gone "$kp" 10
}

@test "describe shows live kafka-python and kcat members with their partitions; list -l and --state" {
	have_py_module kafka || skip "python3-kafka is not installed"
	have kcat || skip "kcat is not installed"
	create_topic livet -p 4
	produce livet 0 1 10
	"$KQ_PY" "$GKP" hold "$KQ_BROKERS" glive livet "$BATS_TEST_TMPDIR/kp.ready" \
		> /dev/null 2>&1 3>&- &
	kp=$!
	track_pid $kp
	kcat -b "$KQ_BROKERS" -G glive livet -q -X session.timeout.ms=6000 \
		-X heartbeat.interval.ms=500 -X client.id=kcat-member > /dev/null 2>&1 < /dev/null 3>&- &
	kc=$!
	track_pid $kc
	# Wait until both members hold partitions.
	for _ in $(seq 1 100); do
		out=$(kqg describe glive --members --no-headers 2> /dev/null || true)
		if [ "$(printf '%s\n' "$out" | awk '$5 > 0' | wc -l)" -eq 2 ]; then
			break
		fi
		sleep 0.2
	done
	run --separate-stderr kqg describe glive --members --no-headers
	assert_status 0
	[ "$(printf '%s\n' "$output" | awk '$5 > 0' | wc -l)" -eq 2 ] || fail "members: $output"
	[[ "$output" == *kq-test-kp* ]] && [[ "$output" == *kcat-member* ]] || fail "$output"
	[ "$(printf '%s\n' "$output" | awk '{ s += $5 } END { print s }')" -eq 4 ]
	# The offsets view names the member owning each partition.
	run --separate-stderr kqg describe glive --no-headers
	[ "$(printf '%s\n' "$output" | awk '$2 == "livet" && $7 != "-"' | wc -l)" -eq 4 ] ||
		fail "describe: $output"
	run --separate-stderr kqg describe glive --state --no-headers
	[[ "$output" =~ ^glive\ +127\.0\.0\.1:[0-9]+\ \(0\)\ +(range|roundrobin)\ +Stable\ +2$ ]] ||
		fail "state: $output"
	run --separate-stderr kqg list -l --no-headers
	[[ "$output" == *glive*consumer*Stable*2* ]] || fail "list -l: $output"
	run --separate-stderr kqg list --state=Stable
	# (other tests' members may still be within their session timeout)
	printf '%s\n' "$output" | grep -qx glive || fail "list --state=Stable: $output"
	run --separate-stderr kqg list --state Empty
	assert_status 0
	[[ "$output" != *glive* ]] || fail "list --state Empty: $output"
	# A reset is refused while members are active, naming them.
	run --separate-stderr kqg reset glive -t livet --to-earliest --execute
	assert_status 4
	[[ "$stderr" == *"group 'glive' has 2 active members"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqg delete glive -y
	assert_status 4
	run --separate-stderr kqg delete-offsets glive -t livet
	assert_status 4
	[[ "$stderr" == *"group 'glive' is consuming 'livet'"* ]] || fail "stderr: $stderr"
	kill "$kp" "$kc"
	wait_pid_gone "$kp" 10
	wait_pid_gone "$kc" 10
}

@test "reset: dry run changes nothing; --execute makes kq-consume -g re-read everything" {
	create_topic rst -p 3
	for p in 0 1 2; do produce rst "$p" $((p * 100 + 1)) $((p * 100 + 50)); done
	kqc -g grst -t rst -e > "$BATS_TEST_TMPDIR/first"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/first")" -eq 150 ]
	run --separate-stderr kqg lag grst
	[ "$output" = 0 ]
	run --separate-stderr kqg reset grst -t rst --to-earliest
	assert_status 0
	[[ "$stderr" == *"dry run; add --execute to apply"* ]] || fail "stderr: $stderr"
	[ "${#lines[@]}" -eq 4 ] && [[ "${lines[1]}" =~ ^rst\ +0\ +50\ +0$ ]] || fail "plan: $output"
	run --separate-stderr kqg lag grst
	[ "$output" = 0 ] || fail "the dry run changed offsets: lag $output"
	run --separate-stderr kqg reset grst -t rst --to-earliest --execute
	assert_status 0
	run --separate-stderr kqg lag grst
	[ "$output" = 150 ] || fail "lag after reset: $output"
	kqc -g grst -t rst -e > "$BATS_TEST_TMPDIR/second"
	cmp <(sort "$BATS_TEST_TMPDIR/first") <(sort "$BATS_TEST_TMPDIR/second")
	# Partition lists, shifts, clamping, export and re-import.
	run --separate-stderr kqg reset grst -t rst:1 --shift-by -10 --execute
	assert_status 0
	run --separate-stderr kqg lag grst --by partition
	[ "$output" = "$(printf 'rst 0 0\nrst 1 10\nrst 2 0')" ] || fail "after shift: $output"
	run --separate-stderr kqg reset grst -t rst:2 --to-offset 999
	assert_status 0
	[[ "$stderr" == *"moved into the log's range"* ]] || fail "no clamp warning: $stderr"
	[[ "${lines[1]}" =~ ^rst\ +2\ +50\ +50$ ]] || fail "clamped plan: $output"
	kqg reset grst --all-topics --to-earliest --export > "$BATS_TEST_TMPDIR/plan.csv"
	[ "$(cat "$BATS_TEST_TMPDIR/plan.csv")" = "$(printf 'rst,0,0\nrst,1,0\nrst,2,0')" ]
	# The dry run of a file plan shows the committed offsets it replaces.
	run --separate-stderr kqg reset grst --from-file "$BATS_TEST_TMPDIR/plan.csv"
	assert_status 0
	[[ "${lines[2]}" =~ ^rst\ +1\ +40\ +0$ ]] || fail "file plan: $output"
	run --separate-stderr kqg reset grst --from-file - <<< 'rst,7,0'
	assert_status 3
	run --separate-stderr kqg reset grst --from-file "$BATS_TEST_TMPDIR/plan.csv" --execute
	assert_status 0
	run --separate-stderr kqg lag grst
	[ "$output" = 150 ]
	run --separate-stderr kqg reset grst -t rst --to-latest --execute
	assert_status 0
	committed_are grst "rst 0 50" "rst 1 50" "rst 2 50"
	# By time: every record is newer than a day ago.
	run --separate-stderr kqg reset grst -t rst --by-duration PT24H --execute
	assert_status 0
	committed_are grst "rst 0 0" "rst 1 0" "rst 2 0"
	run --separate-stderr kqg reset grst -t rst:1 --to-latest --execute
	assert_status 0
	committed_are grst "rst 0 0" "rst 1 50" "rst 2 0"
	run --separate-stderr kqg reset grst -t rst --to @-1h --execute
	assert_status 0
	committed_are grst "rst 0 0" "rst 1 0" "rst 2 0"
}

@test "delete and delete-offsets; missing groups and topics are exit 3" {
	create_topic delt -p 1
	produce delt 0 1 5
	kqc -g gdel -t delt -e > /dev/null
	run --separate-stderr kqg delete-offsets gdel -t delt
	assert_status 0
	# No offsets left (a group with neither offsets nor members may be gone).
	run --separate-stderr kqg describe gdel --no-headers
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || fail "describe exited $status"
	[ -z "$output" ] || fail "offsets left: $output"
	kqc -g gdel -t delt -e > /dev/null
	run --separate-stderr kqg delete gdel -y
	assert_status 0
	run --separate-stderr kqg list
	assert_status 0
	[[ "$output" != *gdel* ]] || fail "still listed: $output"
	run --separate-stderr kqg describe gdel
	assert_status 3
	run --separate-stderr kqg delete no-such-group -y
	assert_status 3
	run --separate-stderr kqg reset gdel -t no-such-topic --to-earliest
	assert_status 3
}

@test "describe --all shows every group, as naming them does" {
	create_topic allt -p 2
	produce allt 0 1 4
	produce allt 1 5 6
	kqg reset gall1 -t allt --to-offset 1 --execute > /dev/null 2>&1
	kqg reset gall2 -t allt:1 --to-earliest --execute > /dev/null 2>&1
	run --separate-stderr kqg describe gall1 gall2 --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "describe gall1 gall2: $output"
	# Columns are as wide as the widest row: compare the cells.
	printf '%s\n' "$output" | tr -s ' ' > "$BATS_TEST_TMPDIR/named"
	run --separate-stderr kqg describe --all --no-headers
	assert_status 0
	printf '%s\n' "$output" | grep -E '^gall[12] ' | tr -s ' ' > "$BATS_TEST_TMPDIR/all" ||
		fail "describe --all: $output"
	assert_same_file "$BATS_TEST_TMPDIR/named" "$BATS_TEST_TMPDIR/all"
	run --separate-stderr kqg describe --all gall1
	assert_status 2
}

@test "usage errors exit 2" {
	run --separate-stderr kqg
	assert_status 2
	run --separate-stderr kqg frobnicate
	assert_status 2
	run --separate-stderr kqg reset g -t x
	assert_status 2
	run --separate-stderr kqg reset g --to-earliest
	assert_status 2
	run --separate-stderr kqg reset g -t x --to-earliest --to-latest
	assert_status 2
	run --separate-stderr kqg lag g --by nothing
	assert_status 2
	run --separate-stderr kqg describe
	assert_status 2
	run --separate-stderr kqg delete g < /dev/null
	assert_status 2
	[[ "$stderr" == *"without -y"* ]]
}
