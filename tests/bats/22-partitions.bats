#!/usr/bin/env bats
# Partition counts, orphan directories and file descriptors (issue 9,
# section 2): caps on CreateTopics/CreatePartitions, all or nothing,
# 10,000 partitions under a low RLIMIT_NOFILE, orphans moved aside at start.

bats_require_minimum_version 1.5.0
load helpers

ADMIN="$KQ_INTEROP/parts_admin.py"

setup_file() {
	# Hard 4096, soft 256: the broker raises the soft limit to the hard one,
	# which stays far below the 30,000 descriptors that 10,000 partitions
	# with open segments would take.  The cap leaves room for the 10,000.
	ulimit -Sn 256
	ulimit -Hn 4096
	start_broker -X kq.max.partitions=10100
}

# No partition directory and no registry file of topic $1.
assert_nothing_on_disk() {
	local left
	left=$(cd "$KQ_DATA" && ls -d "$1"-[0-9]* __topics/"$1" 2> /dev/null | head -n 5)
	[ -z "$left" ] || fail "left on disk for $1: $left"
}

# assert_partition TOPIC PARTITION WANT: the partition holds exactly WANT.
assert_partition() {
	run --separate-stderr kqc -t "$1" -p "$2" -o beginning -e
	assert_status 0
	[ "$output" = "$3" ] || fail "$1 partition $2: $output"
}

# parts_of TOPIC: the partition count the broker reports.
parts_of() {
	kqt describe "$1" --no-headers | wc -l
}

@test "the broker raises its soft open-files limit to the hard limit and logs it" {
	run grep -E "^Max open files +4096 +4096 " "/proc/$KQ_BROKER_PID/limits"
	assert_status 0
	grep -q "open files limit 4096 (was 256)" "$(broker_log)" ||
		fail "no limit line in the log"
}

@test "CreateTopics beyond 10000 partitions per request is refused whole, nothing on disk" {
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" create huge:10001
	assert_status 0
	[[ "$output" == "huge error=37 message=The request asks for 10001 new partitions; at most 10000 may be created in one request." ]] ||
		fail "response: $output"
	# Two topics under the cap each, over it together: both refused.
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" create pair-a:6000 pair-b:6000
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || fail "response: $output"
	[[ "${lines[0]}" == "pair-a error=37 message=The request asks for 12000 new"* ]] ||
		fail "response: $output"
	[[ "${lines[1]}" == "pair-b error=37 "* ]] || fail "response: $output"
	for t in huge pair-a pair-b; do
		assert_nothing_on_disk "$t"
	done
	run --separate-stderr kqt describe huge
	[ "$status" -ne 0 ] || fail "huge exists: $output"
}

@test "CreatePartitions beyond 10000 new partitions is refused; the topic keeps its count" {
	create_topic grow -p 2
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" grow grow 10003
	assert_status 0
	[[ "$output" == "grow error=37 message=The request asks for 10001 new partitions;"* ]] ||
		fail "response: $output"
	[ "$(parts_of grow)" -eq 2 ] || fail "grow has $(parts_of grow) partitions"
	left=$(cd "$KQ_DATA" && ls -d grow-[2-9]* grow-[1-9][0-9]* 2> /dev/null | head -n 3)
	[ -z "$left" ] || fail "left on disk: $left"
	# Under the cap it grows, and the new partitions take records.
	run --separate-stderr kqt alter grow -p 5
	assert_status 0
	[ "$(parts_of grow)" -eq 5 ] || fail "grow has $(parts_of grow) partitions"
	echo four | kqp -t grow -p 4
	assert_partition grow 4 four
}

@test "a creation that fails for want of descriptors leaves nothing behind" {
	create_topic starve -p 1
	# The broker has no free descriptor while it handles each request.
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" --starve "$KQ_BROKER_PID" grow starve 40
	assert_status 0
	[[ "$output" == "starve error="* ]] || fail "response: $output"
	[[ "$output" != "starve error=0 "* ]] || fail "grew without descriptors: $output"
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" --starve "$KQ_BROKER_PID" create starve-new:40
	assert_status 0
	[[ "$output" == "starve-new error="* && "$output" != *"error=0 "* ]] ||
		fail "response: $output"
	# Nothing of either on disk, and the broker serves as before.
	left=$(cd "$KQ_DATA" && ls -d starve-[1-9]* 2> /dev/null | head -n 3)
	[ -z "$left" ] || fail "left on disk: $left"
	assert_nothing_on_disk starve-new
	[ "$(parts_of starve)" -eq 1 ] || fail "starve has $(parts_of starve) partitions"
	run --separate-stderr kqt describe starve-new
	[ "$status" -ne 0 ] || fail "starve-new exists: $output"
	run --separate-stderr kqt alter starve -p 40
	assert_status 0
	[ "$(parts_of starve)" -eq 40 ] || fail "starve has $(parts_of starve) partitions"
}

@test "10000 partitions in one request, produce and fetch on the first and last, few descriptors" {
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" create big:10000
	assert_status 0
	[ "$output" = "big error=0 message=None" ] || fail "response: $output"
	[ "$(parts_of big)" -eq 10000 ] || fail "big has $(parts_of big) partitions"
	echo first | kqp -t big -p 0
	echo last | kqp -t big -p 9999
	assert_partition big 0 first
	assert_partition big 9999 last
	# 1000 more partitions written, each with its own segment files: more
	# than the log's descriptor LRU keeps open (4096 / 8 segments).
	seq 10 10 9990 | awk '{ printf "{\"partition\":%d,\"value\":\"v%d\"}\n", $1, $1 }' |
		kqp -t big -f json
	[ "$(cd "$KQ_DATA" && ls -d big-* | wc -l)" -eq 1001 ] || fail "partition directories"
	n=$(ls "/proc/$KQ_BROKER_PID/fd" | wc -l)
	[ "$n" -lt 1700 ] || fail "the broker holds $n descriptors"
	# One fetch over all of them (copies past 64 file slices per response).
	run --separate-stderr kqc -t big -o beginning -e -f '%p %s\n'
	assert_status 0
	[ "${#lines[@]}" -eq 1001 ] || fail "read ${#lines[@]} records: $stderr"
	printf '%s\n' "${lines[@]}" | grep -qx "9990 v9990" || fail "no 9990"
	n=$(ls "/proc/$KQ_BROKER_PID/fd" | wc -l)
	[ "$n" -lt 1700 ] || fail "the broker holds $n descriptors after the fetch"
}

@test "beyond kq.max.partitions a creation is refused with POLICY_VIOLATION" {
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" create over:40
	assert_status 0
	[[ "$output" == "over error=44 message=The broker has "*" partitions; 40 more would exceed kq.max.partitions=10100." ]] ||
		fail "response: $output"
	assert_nothing_on_disk over
	run --separate-stderr "$KQ_PY" "$ADMIN" "$KQ_PORT" grow grow 45
	assert_status 0
	[[ "$output" == "grow error=44 "* ]] || fail "response: $output"
	[ "$(parts_of grow)" -eq 5 ] || fail "grow has $(parts_of grow) partitions"
}

# Restarts the broker (after a kill -9, so recovery runs over the 1,001
# written partitions under the same limit): last in the file.
@test "orphan partition directories are reported at start-up, moved aside, then removed" {
	kill9_broker
	mkdir "$KQ_DATA/ghost-0" "$KQ_DATA/ghost-7" "$KQ_DATA/grow-5" "$KQ_DATA/big-10000"
	echo junk > "$KQ_DATA/ghost-0/00000000000000000000.log"
	# A topic whose registry file does not parse keeps its data.
	mkdir "$KQ_DATA/broken-0"
	echo keep > "$KQ_DATA/broken-0/00000000000000000000.log"
	echo "partitions=x" > "$KQ_DATA/__topics/broken"
	start_broker -X kq.max.partitions=10100
	line=$(grep "belong to no topic" "$(broker_log)")
	[ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || fail "log: $line"
	[[ "$line" == *"4 partition directories belong to no topic ("* ]] || fail "log: $line"
	for d in ghost-0 ghost-7 grow-5 big-10000; do
		[[ "$line" == *"$d"* ]] || fail "$d not named: $line"
		[ ! -e "$KQ_DATA/$d" ] || fail "$d still there"
	done
	# Removed in the background: poll, bounded.
	for _ in $(seq 200); do
		[ -z "$(ls -d "$KQ_DATA"/*-delete 2> /dev/null)" ] && break
		sleep 0.05
	done
	left=$(ls -d "$KQ_DATA"/*-delete 2> /dev/null || true)
	[ -z "$left" ] || fail "not removed: $left"
	[ "$(cat "$KQ_DATA/broken-0/00000000000000000000.log")" = keep ] ||
		fail "the unreadable topic's directory went"
	# The real partitions are intact, and reopened within the limit.
	assert_partition big 9999 last
	assert_partition big 5000 v5000
	n=$(ls "/proc/$KQ_BROKER_PID/fd" | wc -l)
	[ "$n" -lt 1700 ] || fail "the broker holds $n descriptors after the restart"
	[ "$(parts_of grow)" -eq 5 ] || fail "grow has $(parts_of grow) partitions"
}
