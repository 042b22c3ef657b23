#!/usr/bin/env bats
# The README's five-minute tour and its kcat lines, command by command, as a
# newcomer types them.  Every command comes from README.md itself (the
# indented lines of those two sections), `tour CMD` refuses a command the
# README does not have, and the last test fails if a command of the README
# did not run: the README and this file cannot drift apart.  Each step checks
# that the output shows what the README's text says it shows.  The README
# talks to localhost:9092; here KQ_BROKERS points the tools at this file's
# broker, 127.0.0.1:9092 becomes its address and /tmp/ a private directory.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_broker
	TOUR=$BATS_FILE_TMPDIR/tour
	mkdir -p "$TOUR/tmp"
	# `export PATH=$PWD/bin:$PATH` is run in $TOUR: bin/ there is the build
	# under test (plain or sanitizer).
	ln -s "$KQ_BIN" "$TOUR/bin"
	awk '/^## (A five-minute tour|Kafka clients against kq)$/ { on = 1; next }
	     /^## / { on = 0 }
	     on && /^    [^ #]/ { sub(/^    /, ""); sub(/  +# .*$/, ""); print }' \
		"$KQ_TOP/README.md" > "$TOUR/commands"
	: > "$TOUR/ran"
	export TOUR
}

# here CMD: CMD with the README's paths and address made this file's.
here() {
	local c=${1//\/tmp\//$TOUR/tmp/}
	echo "${c//127.0.0.1:9092/$KQ_BROKERS}"
}

# tour CMD: run CMD, a command of the README tour, in a fresh shell in $TOUR
# after the tour's own PATH line; `run` semantics (status, output, stderr).
tour() {
	grep -qxF -- "$1" "$TOUR/commands" || fail "not a command of the README tour: $1"
	echo "$1" >> "$TOUR/ran"
	run --separate-stderr timeout -k 5 60 bash -c \
		"cd '$TOUR' && export PATH=\$PWD/bin:\$PATH && $(here "$1")"
}

# tour_bg OUT CMD: start CMD (a pipeline) like `tour`, in the background in a
# session of its own, stdout to OUT; sets TOUR_PID to the shell's PID.
tour_bg() {
	grep -qxF -- "$2" "$TOUR/commands" || fail "not a command of the README tour: $2"
	echo "$2" >> "$TOUR/ran"
	setsid bash -c "cd '$TOUR' && export PATH=\$PWD/bin:\$PATH && $2" \
		> "$1" 2> "$1.err" < /dev/null 3>&- &
	TOUR_PID=$!
	track_pid "$TOUR_PID"
}

# The kq-consume of a pipeline started by tour_bg.
consume_pid_of() {
	pgrep -s "$1" -x kq-consume
}

# caught_up GROUP TOPIC N: GROUP has committed the end offset of all N
# partitions of TOPIC (kq-groups describe: CURRENT-OFFSET = LOG-END-OFFSET).
caught_up() {
	run --separate-stderr kq-groups describe "$1"
	[ "$status" -eq 0 ] || return 1
	[ "$(awk -v t="$2" 'NR > 1 && $2 == t && $4 ~ /^[0-9]+$/ && $4 == $5 { n++ }
		END { print n + 0 }' <<< "$output")" -eq "$3" ]
}

# partition_counts TOPIC: "PARTITION COUNT" lines.
partition_counts() {
	kqc -t "$1" -e -f '%p\n' | sort | uniq -c | awk '{ print $2, $1 }'
}

@test "tour: the PATH line finds the programs under test" {
	[ -s "$TOUR/commands" ] || fail "README.md has no tour commands"
	tour 'export PATH=$PWD/bin:$PATH'
	assert_status 0
	run bash -c "cd '$TOUR' && export PATH=\$PWD/bin:\$PATH && command -v kq-topics"
	[ "$output" = "$TOUR/bin/kq-topics" ] || fail "kq-topics resolves to: $output"
}

@test "tour: a topic with three partitions, described" {
	tour 'kq-topics create logs -p 3'
	assert_status 0
	tour 'kq-topics describe logs'
	assert_status 0
	[ "${#lines[@]}" -eq 4 ] || fail "want a header and 3 partitions: $output"
	[[ "${lines[0]}" == TOPIC*PARTITION* ]] || fail "header: ${lines[0]}"
	for p in 0 1 2; do
		[[ "${lines[$((p + 1))]}" =~ ^logs\ +$p\  ]] || fail "partition $p: $output"
	done
}

@test "tour: ship a file, one record per line, and read it back" {
	tour "seq 1 100000 | sed 's/^/line /' > /tmp/lines"
	assert_status 0
	[ "$(wc -l < "$TOUR/tmp/lines")" -eq 100000 ] || fail "the file has $(wc -l < "$TOUR/tmp/lines") lines"
	tour 'kq-produce -t logs < /tmp/lines'
	assert_status 0
	tour 'kq-consume -t logs -e | wc -l'
	assert_status 0
	[ "$output" -eq 100000 ] || fail "read back $output records"
	# Every line, each once.
	kqc -t logs -e | sort > "$BATS_TEST_TMPDIR/got"
	sort "$TOUR/tmp/lines" > "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "tour: keyed records land by key, and the consume shows them" {
	tour "printf 'alice\\tlogged in\\nbob\\tlogged in\\nalice\\tlogged out\\n' | kq-produce -t logs -K '\\t'"
	assert_status 0
	tour "kq-consume -t logs -e -f '%p %o %k=%s\\n' | grep -e alice= -e bob="
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "want the 3 keyed records: $output"
	local pa1 oa1 pa2 oa2 x
	read -r pa1 oa1 x <<< "${lines[0]}"
	[[ "${lines[0]}" =~ ^[0-2]\ [0-9]+\ alice=logged\ in$ ]] || fail "first: ${lines[0]}"
	[[ "$output" == *" bob=logged in"* ]] || fail "no bob: $output"
	x=$(grep 'alice=logged out' <<< "$output")
	read -r pa2 oa2 x <<< "$x"
	[ "$pa1" = "$pa2" ] || fail "alice's records are in partitions $pa1 and $pa2"
	[ "$oa2" -gt "$oa1" ] || fail "alice's records out of order: $output"
	# Where the Java client would put them: murmur2 of the key.
	run "$KQ_PY" -c 'import sys
def murmur2(d):
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(d)) & 0xffffffff
    n = len(d) // 4
    for i in range(n):
        k = int.from_bytes(d[4*i:4*i+4], "little")
        k = (k * m) & 0xffffffff; k ^= k >> r; k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff; h ^= k
    t = d[4*n:]
    if len(t) >= 3: h ^= t[2] << 16
    if len(t) >= 2: h ^= t[1] << 8
    if len(t) >= 1: h ^= t[0]; h = (h * m) & 0xffffffff
    h ^= h >> 13; h = (h * m) & 0xffffffff; h ^= h >> 15
    return (h & 0x7fffffff) % 3
print(murmur2(b"alice"))'
	[ "$output" = "$pa1" ] || fail "alice in partition $pa1, the Java client would use $output"
}

@test "tour: the last 10 records of each partition, and everything since a time" {
	# Unkeyed lines stick to a partition per batch: a partition may be empty.
	partition_counts logs > "$BATS_TEST_TMPDIR/counts"
	tour 'kq-consume -t logs -o -10 -e'
	assert_status 0
	# The last 10 of each partition (all of a shorter one).
	local want=0 p n
	: > "$BATS_TEST_TMPDIR/want"
	while read -r p n; do
		kqc -t logs -p "$p" -o $((n > 10 ? n - 10 : 0)) -e >> "$BATS_TEST_TMPDIR/want"
		want=$((want + (n > 10 ? 10 : n)))
	done < "$BATS_TEST_TMPDIR/counts"
	[ "${#lines[@]}" -eq "$want" ] || fail "want $want records, got ${#lines[@]}"
	sort <<< "$output" > "$BATS_TEST_TMPDIR/got"
	sort -o "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"

	tour 'kq-consume -t logs -o @-5m -e | head'
	assert_status 0
	[ "${#lines[@]}" -eq 10 ] || fail "head shows 10 records: $output"
	for x in "${lines[@]}"; do
		grep -qxF -- "$x" "$TOUR/tmp/lines" || [[ "$x" == logged* ]] ||
			fail "not a record of logs: $x"
	done
}

@test "tour: exact copies, keys, headers, nulls and binary values included" {
	# The tour's topic holds lines and keyed lines; give it what the text
	# promises to copy too, in every partition: headers, null keys and
	# values, binary keys and values (no NUL in values: the group step
	# greps them as text).
	local p
	for p in 0 1 2; do
		printf '{"key":"h%s","value":"with headers","headers":[["trace","t%s"],["nul",null]]}\n{"key":null,"value":"no key"}\n{"key":"tomb%s","value":null}\n{"key":"bin","value":"AP8Q\\u0001\\u00ff","headers":[]}\n' \
			"$p" "$p" "$p" | kqp -t logs -f json -p "$p"
		kqp -t logs -f binary -p "$p" < <(printf '\0\0\0\3k\0\1\0\0\0\4\376\377\n\r')
	done
	kqc -t logs -e -f json > "$BATS_TEST_TMPDIR/src.json"

	tour 'kq-consume -t logs -e -f json | kq-produce -t logs-copy -f json --create'
	assert_status 0

	run kqt describe logs-copy
	assert_status 0
	[ "${#lines[@]}" -eq 4 ] || fail "logs-copy should have the 3 partitions of logs: $output"
	kqc -t logs-copy -e -f json > "$BATS_TEST_TMPDIR/copy.json"
	# Same records, same partitions, same offsets (a fresh topic), same
	# keys, values and headers; only the topic name differs.
	jq_less() {
		sed -e 's/^{"topic":"[^"]*",/{/' -e 's/"timestamp":[0-9]*,"timestamp_type":"[a-z]*",//' "$1" | sort
	}
	jq_less "$BATS_TEST_TMPDIR/src.json" > "$BATS_TEST_TMPDIR/a"
	jq_less "$BATS_TEST_TMPDIR/copy.json" > "$BATS_TEST_TMPDIR/b"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/a")" -ge 100015 ] || fail "source has $(wc -l < "$BATS_TEST_TMPDIR/a") records"
	assert_same_file "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	# The timestamps came along too.
	cut -d, -f1-5 "$BATS_TEST_TMPDIR/src.json" | sed 's/^{"topic":"[^"]*",//' | sort > "$BATS_TEST_TMPDIR/ta"
	cut -d, -f1-5 "$BATS_TEST_TMPDIR/copy.json" | sed 's/^{"topic":"[^"]*",//' | sort > "$BATS_TEST_TMPDIR/tb"
	assert_same_file "$BATS_TEST_TMPDIR/ta" "$BATS_TEST_TMPDIR/tb"
	grep -q '"headers":\[\["trace","t1"\],\["nul",null\]\]' "$BATS_TEST_TMPDIR/b" ||
		fail "headers not copied"
	grep -q '"key":"tomb2","value":null' "$BATS_TEST_TMPDIR/b" || fail "null value not copied"
	grep -q '"value":"/v8KDQ==","value_encoding":"base64"' "$BATS_TEST_TMPDIR/b" || fail "binary value not copied"
}

@test "tour: follow new records as they come, until Ctrl-C" {
	tour_bg "$BATS_TEST_TMPDIR/follow" 'kq-consume -t logs -o end'
	local i pid=
	for i in $(seq 100); do
		pid=$(consume_pid_of "$TOUR_PID") && break
		sleep 0.1
	done
	[ -n "$pid" ] || fail "kq-consume did not start"
	# Records produced until the follower has seen one: it may start after
	# the first ones.
	for i in $(seq 200); do
		echo "new $i" | kqp -t logs -p $((i % 3))
		grep -q '^new ' "$BATS_TEST_TMPDIR/follow" && break
		sleep 0.1
	done
	grep -q '^new ' "$BATS_TEST_TMPDIR/follow" || fail "the follower showed no new record"
	if grep -v '^new ' "$BATS_TEST_TMPDIR/follow"; then
		fail "-o end showed old records"
	fi
	kill -INT "$pid"
	wait_pid_gone "$TOUR_PID" 10 || fail "kq-consume ignored Ctrl-C"
	run wait "$TOUR_PID"
	[ "$status" -eq 130 ] || fail "exit status after Ctrl-C: $status"
}

@test "tour: a consumer group splits the partitions and resumes from its commits" {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b pa pb i p
	tour_bg "$a" 'kq-consume -g analytics -t logs | grep ERROR'
	pa=$TOUR_PID
	tour_bg "$b" 'kq-consume -g analytics -t logs | grep ERROR'
	pb=$TOUR_PID
	# Both members hold partitions: every partition owned, by two members.
	for i in $(seq 300); do
		run --separate-stderr kq-groups describe analytics
		if [ "$status" -eq 0 ] && [ "$(awk 'NR > 1 && $2 == "logs" { print $7 }' <<< "$output" | sort -u | wc -l)" -eq 2 ] &&
			[ "$(awk 'NR > 1 && $2 == "logs" { n++ } END { print n + 0 }' <<< "$output")" -eq 3 ]; then
			break
		fi
		sleep 0.1
	done
	[ "$i" -lt 300 ] || fail "the two members never split the partitions: $output"
	tour 'kq-groups describe analytics'
	assert_status 0
	[[ "${lines[0]}" == GROUP*TOPIC*PARTITION*CURRENT-OFFSET*LOG-END-OFFSET*LAG*CONSUMER-ID* ]] ||
		fail "describe header: ${lines[0]}"

	for p in 0 1 2; do
		printf 'ERROR disk full %s\nok %s\n' "$p" "$p" | kqp -t logs -p "$p"
	done
	# The members commit what they wrote every --commit-interval (5 s).
	for i in $(seq 300); do
		caught_up analytics logs 3 && break
		sleep 0.1
	done
	caught_up analytics logs 3 || fail "the members never committed the end: $output"
	# The group's lag is one number.
	tour 'kq-groups lag analytics'
	assert_status 0
	[ "$output" = 0 ] || fail "lag of a group that committed the end: $output"
	# grep block-buffers into a file: the lines show once the member stops.
	kill -TERM "$(consume_pid_of "$pa")" "$(consume_pid_of "$pb")"
	wait_pid_gone "$pa" 15 || fail "member a did not stop"
	wait_pid_gone "$pb" 15 || fail "member b did not stop"
	sort "$a" "$b" > "$BATS_TEST_TMPDIR/both"
	printf 'ERROR disk full %s\n' 0 1 2 > "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/both"
	[ -s "$a" ] || fail "member a got no partition's records"
	[ -s "$b" ] || fail "member b got no partition's records"

	# Stopped and started again, the group resumes where it stopped.
	echo 'ERROR again' | kqp -t logs -p 1
	tour_bg "$a" 'kq-consume -g analytics -t logs | grep ERROR'
	pa=$TOUR_PID
	for i in $(seq 300); do
		caught_up analytics logs 3 && break
		sleep 0.1
	done
	caught_up analytics logs 3 || fail "the restarted member did not catch up: $output"
	kill -TERM "$(consume_pid_of "$pa")"
	wait_pid_gone "$pa" 15 || fail "member did not stop"
	[ "$(cat "$a")" = 'ERROR again' ] || fail "resumed member wrote: $(cat "$a")"
}

@test "tour: replay a stopped group from the earliest offsets" {
	tour 'kq-groups reset analytics -t logs --to-earliest --execute'
	assert_status 0
	run --separate-stderr kq-groups describe analytics
	assert_status 0
	[ "$(awk 'NR > 1 && $2 == "logs" && $4 == 0 { n++ } END { print n + 0 }' <<< "$output")" -eq 3 ] ||
		fail "offsets after the reset: $output"
	run --separate-stderr kq-groups lag analytics
	[ "$output" -gt 100000 ] || fail "lag after the reset: $output"
}

@test "tour: retention and compaction are topic configs" {
	tour 'kq-topics create users -c cleanup.policy=compact'
	assert_status 0
	run --separate-stderr kqt describe users --overrides
	assert_status 0
	[[ "$output" =~ users\ +cleanup\.policy=compact ]] || fail "users: $output"
	tour 'kq-topics alter logs -c retention.ms=86400000'
	assert_status 0
	run --separate-stderr kqt describe logs --overrides
	assert_status 0
	[[ "$output" =~ logs\ +retention\.ms=86400000 ]] || fail "logs: $output"
}

@test "README: kcat against kq, as the README shows it" {
	tour 'kcat -b 127.0.0.1:9092 -L'
	assert_status 0
	[[ "$output" == *"1 brokers:"* ]] || fail "kcat -L: $output"
	[[ "$output" == *'topic "logs" with 3 partitions:'* ]] || fail "kcat -L: $output"
	tour 'echo hello | kcat -b 127.0.0.1:9092 -P -t logs'
	assert_status 0
	tour 'kcat -b 127.0.0.1:9092 -C -t logs -e'
	assert_status 0
	[ "$(grep -cx hello <<< "$output")" -eq 1 ] || fail "kcat -C does not show the record: ${output: -300}"
	# The first offset at or after a 2023 time is the first of the partition.
	tour 'kcat -b 127.0.0.1:9092 -Q -t logs:0:1700000000000'
	assert_status 0
	[ "$output" = "logs [0] offset 0" ] || fail "kcat -Q: $output"
	# librdkafka as a Kafka 0.8.2 client: Fetch v0, MessageSet v0.
	tour 'kcat -b 127.0.0.1:9092 -X api.version.request=false -X broker.version.fallback=0.8.2 -C -t logs -e'
	assert_status 0
	[ "$(grep -cx hello <<< "$output")" -eq 1 ] || fail "kcat as 0.8.2 does not show the record: ${output: -300}"
}

@test "tour: every command of the README tour ran" {
	run diff <(sort -u "$TOUR/commands") <(sort -u "$TOUR/ran")
	[ "$status" -eq 0 ] || fail "README tour commands not run (<) or not in the tour (>): $output"
}
