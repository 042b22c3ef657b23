#!/usr/bin/env bats
# kq-topics: create, list, describe, alter, delete (CLI.md section 8).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	# A non-default partition count proves -X reaches the broker config.
	start_broker -X num.partitions=2
}

# describe_col TEXT COLUMN PARTITION: the value of COLUMN in the describe row
# of PARTITION (columns located by the header row, not by position).
describe_col() {
	printf '%s\n' "$1" | awk -v col="$2" -v part="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
		$idx["PARTITION"] == part { print $idx[col] }'
}

@test "create -p, list, and exit 4 for an existing topic unless --if-not-exists" {
	run --separate-stderr kqt create orders -p 3
	assert_status 0
	[ -z "$output" ] || [[ "$output" == *orders* ]]
	run --separate-stderr kqt list
	assert_status 0
	printf '%s\n' "${lines[@]}" | grep -qx orders || fail "list: $output"
	run --separate-stderr kqt create orders -p 3
	assert_status 4
	[[ "$stderr" == *"kq-topics: "*"'orders'"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt create orders -p 3 --if-not-exists
	assert_status 0
}

@test "list prints bare names, sorted or not, and filters by glob" {
	kqt create tmp-a -p 1
	kqt create tmp-b -p 1
	kqt create keep-c -p 1
	run --separate-stderr kqt list
	assert_status 0
	for t in tmp-a tmp-b keep-c; do
		printf '%s\n' "${lines[@]}" | grep -qx "$t" || fail "missing $t in: $output"
	done
	# Names only: no header, no internal topics by default.
	[[ "$output" != *TOPIC* ]] || fail "list printed a header: $output"
	[[ "$output" != *__consumer_offsets* ]] || fail "list shows internal topics"
	run --separate-stderr kqt list 'tmp-*'
	assert_status 0
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ' ')" = "tmp-a tmp-b " ] ||
		fail "glob: $output"
	run --separate-stderr kqt list -l 'keep-*'
	assert_status 0
	[[ "${lines[0]}" == *PARTITIONS* ]] || fail "no header in list -l: $output"
	[[ "${lines[1]}" == keep-c* ]] || fail "list -l: $output"
}

@test "create without -p uses the broker default (num.partitions=2)" {
	kqt create defparts
	run --separate-stderr kqt describe defparts --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || fail "describe: $output"
}

@test "describe: header, one row per partition naming its topic, start/end offsets" {
	kqt create desc -p 3
	printf 'a\nb\nc\nd\n' | kqp -t desc -p 1
	printf 'e\n' | kqp -t desc -p 2
	run --separate-stderr kqt describe desc
	assert_status 0
	read -r -a hdr <<< "${lines[0]}"
	[ "${hdr[*]}" = "TOPIC PARTITION LEADER REPLICAS ISR START-OFFSET END-OFFSET" ] ||
		fail "header: ${lines[0]}"
	[ "${#lines[@]}" -eq 4 ] || fail "describe: $output"
	for i in 1 2 3; do
		[[ "${lines[$i]}" == "desc "* ]] || fail "row does not name its topic: ${lines[$i]}"
	done
	[ "$(describe_col "$output" LEADER 0)" = 0 ]
	[ "$(describe_col "$output" START-OFFSET 1)" = 0 ]
	[ "$(describe_col "$output" END-OFFSET 0)" = 0 ]
	[ "$(describe_col "$output" END-OFFSET 1)" = 4 ]
	[ "$(describe_col "$output" END-OFFSET 2)" = 1 ]
	run --separate-stderr kqt describe desc --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "desc "* ]]
	run --separate-stderr kqt describe no-such-topic
	assert_status 3
}

@test "create -c KEY=VAL sets a topic config shown by describe --configs" {
	run --separate-stderr kqt create withcfg -p 1 -c retention.ms=3600000 -c cleanup.policy=delete
	assert_status 0
	run --separate-stderr kqt describe withcfg --configs
	assert_status 0
	printf '%s\n' "${lines[@]}" | grep -E '(^|[[:space:]])retention\.ms=3600000([[:space:]]|$)' |
		grep -q topic || fail "retention.ms not shown as a topic config: $output"
	# An unknown or invalid config is refused and nothing is created.
	run --separate-stderr kqt create badcfg -p 1 -c retention.ms=soon
	assert_status 1
	[[ "$stderr" == *"cannot create topic 'badcfg'"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt list
	assert_status 0
	[[ "$output" != *badcfg* ]] || fail "badcfg was created"
}

@test "alter -p grows partitions; shrinking is a usage error" {
	kqt create grow -p 2
	run --separate-stderr kqt alter grow -p 5
	assert_status 0
	run --separate-stderr kqt describe grow --no-headers
	[ "${#lines[@]}" -eq 5 ] || fail "after alter -p 5: $output"
	# The new partitions take data.
	printf 'x\n' | kqp -t grow -p 4
	run --separate-stderr kqc -t grow -p 4 -e
	[ "$output" = x ]
	run --separate-stderr kqt alter grow -p 3
	assert_status 2
	[ -n "$stderr" ]
	run --separate-stderr kqt describe grow --no-headers
	[ "${#lines[@]}" -eq 5 ]
}

@test "alter -c and --delete-config change topic overrides" {
	kqt create tune -p 1
	run --separate-stderr kqt alter tune -c retention.ms=7200000
	assert_status 0
	run --separate-stderr kqt describe tune --configs
	[[ "$output" == *retention.ms=7200000* ]] || fail "$output"
	run --separate-stderr kqt alter tune --delete-config retention.ms
	assert_status 0
	run --separate-stderr kqt describe tune --configs
	assert_status 0
	if printf '%s\n' "$output" | grep -q 'retention.ms=7200000'; then
		fail "override still present: $output"
	fi
}

@test "delete needs -y without a TTY; missing topic is exit 3 unless --if-exists" {
	kqt create doomed -p 2
	printf 'x\n' | kqp -t doomed -p 0
	run --separate-stderr kqt delete doomed < /dev/null
	assert_status 2
	run --separate-stderr kqt list
	printf '%s\n' "${lines[@]}" | grep -qx doomed
	run --separate-stderr kqt delete doomed -y
	assert_status 0
	run --separate-stderr kqt list
	if printf '%s\n' "${lines[@]}" | grep -qx doomed; then
		fail "doomed still listed after delete -y"
	fi
	run --separate-stderr kqt delete doomed -y
	assert_status 3
	run --separate-stderr kqt delete doomed -y --if-exists
	assert_status 0
	# Its partition directories leave the data dir.
	for _ in $(seq 50); do
		[ -d "$KQ_DATA/doomed-0" ] || break
		sleep 0.1
	done
	[ ! -d "$KQ_DATA/doomed-0" ] || fail "doomed-0 still in the data dir"
	# Re-created under the same name it starts empty.
	kqt create doomed -p 1
	run --separate-stderr kqc -t doomed -e
	assert_status 0
	[ -z "$output" ] || fail "old data came back: $output"
}

@test "--json prints one object per line" {
	kqt create js -p 2
	run --separate-stderr kqt describe js --json
	assert_status 0
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/j"
	run "$KQ_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    json.loads(line)
    n += 1
assert n >= 1, n
print(n)' "$BATS_TEST_TMPDIR/j"
	assert_status 0
	run --separate-stderr kqt list --json
	assert_status 0
	printf '%s\n' "$output" | grep -q '"js"'
}

@test "the internal __consumer_offsets topic can be neither deleted nor grown" {
	run --separate-stderr kqt list --internal
	assert_status 0
	[[ "$output" == *__consumer_offsets* ]] || fail "no internal topic listed: $output"
	run --separate-stderr kqt delete __consumer_offsets -y
	assert_status 1
	run --separate-stderr kqt alter __consumer_offsets -p 200
	assert_status 1
	[[ "$stderr" == *"Internal topics cannot grow"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt list --internal
	[[ "$output" == *__consumer_offsets* ]]
}

@test "IncrementalAlterConfigs APPEND/SUBTRACT edit the cleanup.policy list; other keys refuse them" {
	kqt create lists -p 1
	run "$KQ_PY" "$KQ_INTEROP/incr_alter.py" "$KQ_BROKERS" lists cleanup.policy 2 compact
	[ "$output" = "0 " ] || fail "append: $output"
	run --separate-stderr kqt describe lists --configs
	[[ "$output" == *"cleanup.policy=delete,compact "* ]] || fail "$output"
	run "$KQ_PY" "$KQ_INTEROP/incr_alter.py" "$KQ_BROKERS" lists cleanup.policy 3 delete
	[ "$output" = "0 " ] || fail "subtract: $output"
	run --separate-stderr kqt describe lists --configs
	[[ "$output" == *"cleanup.policy=compact "* ]] || fail "$output"
	run "$KQ_PY" "$KQ_INTEROP/incr_alter.py" "$KQ_BROKERS" lists retention.ms 2 5
	[[ "$output" == "40 "*"not a list"* ]] || fail "append to a scalar: $output"
}

@test "create -r/--replication-factor; describe --under-replicated; --config-file" {
	run --separate-stderr kqt create rf1 -r 1 -p 2
	assert_status 0
	run --separate-stderr kqt create rf1b --replication-factor 1
	assert_status 0
	run --separate-stderr kqt describe rf1 --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || fail "describe: $output"
	[[ "${lines[0]}" =~ ^rf1\ +0\ +0\ +0\ +0\  ]] || fail "replicas: ${lines[0]}"
	# A standalone broker has one node: two replicas cannot be placed.
	run --separate-stderr kqt create rf2 --replication-factor 2
	assert_status 1
	[[ "$stderr" == *"cannot create topic 'rf2'"* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt create rf0 -r 0
	assert_status 2
	# Every partition has its one replica in sync: none is under-replicated.
	run --separate-stderr kqt describe rf1 --under-replicated --no-headers
	assert_status 0
	[ -z "$output" ] || fail "under-replicated: $output"
	run --separate-stderr kqt describe --under-replicated
	assert_status 0
	[ "${#lines[@]}" -eq 1 ] || fail "more than the header: $output"
	# --config-file (-F in 15-cli) names the client config file.
	printf 'brokers = %s\n' "$KQ_BROKERS" > "$BATS_TEST_TMPDIR/cfg"
	run --separate-stderr env -u KQ_BROKERS timeout 60 kq-topics --config-file "$BATS_TEST_TMPDIR/cfg" list
	assert_status 0
	[[ "$output" == *rf1b* ]] || fail "list: $output"
	run --separate-stderr env -u KQ_BROKERS timeout 60 kq-topics --config-file "$BATS_TEST_TMPDIR/none" list
	assert_status 2
}

@test "topics survive a broker restart" {
	kqt create durable-topic -p 3 -c retention.ms=3600000
	printf 'kept\n' | kqp -t durable-topic -p 2
	stop_broker || fail "broker did not stop cleanly on SIGTERM"
	start_broker -X num.partitions=2
	run --separate-stderr kqt describe durable-topic --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "$output"
	run --separate-stderr kqt describe durable-topic --configs
	[[ "$output" == *retention.ms=3600000* ]] || fail "$output"
	run --separate-stderr kqc -t durable-topic -e
	[ "$output" = kept ]
}
