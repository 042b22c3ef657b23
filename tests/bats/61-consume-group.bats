#!/usr/bin/env bats
# kq-consume -g: members split the partitions, commits are at-least-once and
# survive member crashes and broker restarts, and kq shares groups with kcat
# and kafka-python (issue 3, acceptance 1-4).
#
# Every member prints "PARTITION OFFSET VALUE" lines; values are v1, v2, ...
# so the union of the outputs can be checked against what was produced.

bats_require_minimum_version 1.5.0
load helpers

# A short session timeout must be allowed for the SIGKILL test.
BROKER_ARGS=(-X group.min.session.timeout.ms=1000)

setup_file() {
	start_broker "${BROKER_ARGS[@]}"
}

setup() {
	D=$BATS_TEST_TMPDIR
}

# produce TOPIC FROM TO: records vFROM..vTO through kcat -P, then check they
# are all there.  Keyed (kN), so that every partition gets some: unkeyed
# records would stick to one partition per batch.
produce() {
	local topic=$1 before after
	before=$(kqc -t "$topic" -e -q | wc -l)
	seq "$2" "$3" | awk '{ print "k" $1 ":v" $1 }' |
		timeout 60 kcat -P -K: -b "$KQ_BROKERS" -t "$topic" ||
		fail "kcat -P into $topic failed"
	after=$(kqc -t "$topic" -e -q | wc -l)
	[ "$after" -eq $((before + $3 - $2 + 1)) ] ||
		fail "$topic holds $after records after producing $2..$3 onto $before"
}

# member NAME GROUP TOPIC [kq-consume args...]: a group consumer in the
# background, output in $D/NAME.out, stderr in $D/NAME.err, PID in $D/NAME.pid.
member() {
	local name=$1 group=$2 topic=$3
	shift 3
	kq-consume -g "$group" -t "$topic" -f '%p %o %s\n' -X heartbeat.interval.ms=300 "$@" \
		< /dev/null > "$D/$name.out" 2> "$D/$name.err" 3>&- &
	echo $! > "$D/$name.pid"
	track_pid $!
}

# stop_member NAME SIGNAL: signal it, wait for it to exit; its exit status
# goes to $mstatus.
stop_member() {
	local pid
	pid=$(cat "$D/$1.pid")
	kill -"$2" "$pid"
	wait_pid_gone "$pid" 30 || fail "$1 (pid $pid) did not exit after SIG$2"
	mstatus=0
	wait "$pid" || mstatus=$?
}

# wait_member NAME: wait for it to exit by itself (30 s at most); status in $mstatus.
wait_member() {
	local pid
	pid=$(cat "$D/$1.pid")
	wait_pid_gone "$pid" 30 || fail "$1 (pid $pid) is still running: $(cat "$D/$1.err")"
	mstatus=0
	wait "$pid" || mstatus=$?
}

# values_from FROM FILE...: the distinct values vN with N >= FROM in the files.
values_from() {
	local from=$1
	shift
	awk -v from="$from" '{ n = substr($3, 2) + 0; if (n >= from) print $3 }' "$@" | sort -u
}

# wait_values FROM TO FILE...: until the files hold every value vFROM..vTO
# (30 s at most).
wait_values() {
	local from=$1 to=$2 i=0 have
	shift 2
	while :; do
		have=$(values_from "$from" "$@" | awk -v to="$to" 'substr($1, 2) + 0 <= to' | wc -l)
		[ "$have" -ge $((to - from + 1)) ] && return 0
		[ "$i" -ge 150 ] && fail "only $have of v$from..v$to arrived within 30s in $*"
		sleep 0.2
		i=$((i + 1))
	done
}

# expect_exact FROM TO FILE...: the files hold exactly vFROM..vTO, each once.
expect_exact() {
	local from=$1 to=$2 dups
	shift 2
	awk '{ print $3 }' "$@" | sort > "$D/got"
	dups=$(uniq -d "$D/got" | head -n 5 | tr '\n' ' ')
	[ -z "$dups" ] || fail "read more than once: $dups"
	seq "$from" "$to" | sed 's/^/v/' | sort > "$D/want"
	if ! cmp -s "$D/want" "$D/got"; then
		diff "$D/want" "$D/got" | head -n 6
		fail "the outputs are not exactly v$from..v$to"
	fi
}

# expect_disjoint_partitions FILE...: no partition appears in two files, and
# every file has at least one.
expect_disjoint_partitions() {
	local shared f
	shared=$(awk '{ print $1, FILENAME }' "$@" | sort -u | awk '{ print $1 }' | uniq -d |
		tr '\n' ' ')
	[ -z "$shared" ] || fail "partitions read by more than one member: $shared"
	for f in "$@"; do
		[ -s "$f" ] || fail "$f read nothing"
	done
}

# group_state GROUP: "STATE MEMBERS" as kq-groups describe --state says.
group_state() {
	timeout 30 kq-groups describe "$1" --state | awk -v g="$1" '$1 == g { print $(NF - 1), $NF }'
}

# wait_group_state GROUP "STATE MEMBERS" MS: poll until the group is so (a
# glob), MS milliseconds at most.
wait_group_state() {
	local deadline st
	deadline=$(($(now_ms) + $3))
	while :; do
		st=$(group_state "$1")
		[[ $st == $2 ]] && return 0
		[ "$(now_ms)" -le "$deadline" ] || fail "group $1 is '$st', not '$2', after $3 ms"
		sleep 0.05
	done
}

@test "three members split a 6-partition topic: every record once, each partition one member" {
	create_topic cg1 -p 6
	produce cg1 1 60000
	for m in a b c; do
		member "$m" g1 cg1
	done
	wait_values 1 60000 "$D"/a.out "$D"/b.out "$D"/c.out
	for m in a b c; do
		stop_member "$m" TERM
		[ "$mstatus" -eq 143 ] || fail "$m exited $mstatus: $(cat "$D/$m.err")"
	done
	expect_exact 1 60000 "$D"/a.out "$D"/b.out "$D"/c.out
	expect_disjoint_partitions "$D"/a.out "$D"/b.out "$D"/c.out
	# What they wrote was committed at SIGTERM: the group has nothing left.
	run --separate-stderr kqc -g g1 -t cg1 -e
	assert_status 0
	[ -z "$output" ] || fail "the group read again: ${output:0:200}"
}

@test "-e with a group: members stop at the startup end offsets, nothing lost or doubled" {
	for m in a b c; do
		member "$m" g1e cg1 -e
	done
	for m in a b c; do
		wait_member "$m"
		[ "$mstatus" -eq 0 ] || fail "$m exited $mstatus: $(cat "$D/$m.err")"
	done
	expect_exact 1 60000 "$D"/a.out "$D"/b.out "$D"/c.out
}

@test "SIGKILL: after the session timeout the survivors take over from the last commit" {
	local parts p dups
	create_topic cg2 -p 6
	produce cg2 1 6000
	for m in a b c; do
		member "$m" g2k cg2 -X session.timeout.ms=3000 --commit-interval 100ms
	done
	wait_values 1 6000 "$D"/a.out "$D"/b.out "$D"/c.out
	kill -9 "$(cat "$D/a.pid")"
	wait_pid_gone "$(cat "$D/a.pid")" 10
	produce cg2 6001 12000
	wait_values 6001 12000 "$D"/b.out "$D"/c.out
	for m in b c; do
		stop_member "$m" TERM
		[ "$mstatus" -eq 143 ] || fail "$m exited $mstatus: $(cat "$D/$m.err")"
	done
	# Nothing skipped: every record reached someone.
	awk '{ print $3 }' "$D"/a.out "$D"/b.out "$D"/c.out | sort -u > "$D/all"
	seq 1 12000 | sed 's/^/v/' | sort > "$D/want"
	cmp -s "$D/want" "$D/all" || fail "records missing: $(comm -23 "$D/want" "$D/all" | head -n 5)"
	# The survivors never overlap each other ...
	dups=$(awk '{ print $3 }' "$D"/b.out "$D"/c.out | sort | uniq -d | head -n 5 | tr '\n' ' ')
	[ -z "$dups" ] || fail "both survivors read: $dups"
	# ... and what they re-read of a's partitions is only a's uncommitted
	# tail: per partition, every offset a alone read is below every offset
	# read again.
	parts=$(awk '{ print $1 }' "$D"/a.out | sort -un)
	[ -n "$parts" ] || fail "a read nothing before it was killed"
	for p in $parts; do
		awk -v p="$p" '$1 == p { print $2 }' "$D"/b.out "$D"/c.out | sort -n > "$D/surv"
		awk -v p="$p" '$1 == p { print $2 }' "$D"/a.out | sort -n > "$D/mine"
		[ -s "$D/surv" ] || fail "partition $p of the killed member was not taken over"
		awk 'NR == FNR { again[$1] = 1; next }
		     ($1 in again) { if (!seen || $1 < lo) lo = $1; seen = 1; next }
		     { if (!only || $1 > hi) hi = $1; only = 1 }
		     END { exit (seen && only && hi > lo) ? 1 : 0 }' "$D/surv" "$D/mine" ||
			fail "partition $p: survivors re-read offsets below ones they skipped"
	done
}

@test "a member that leaves cleanly hands its partitions over at once" {
	create_topic cg3 -p 4
	produce cg3 1 400
	# A session timeout far beyond the waits below: only LeaveGroup can
	# make the rebalance this quick.
	for m in a b; do
		member "$m" g3l cg3 -X session.timeout.ms=120000
	done
	wait_values 1 400 "$D"/a.out "$D"/b.out
	stop_member a TERM
	[ "$mstatus" -eq 143 ] || fail "a exited $mstatus: $(cat "$D/a.err")"
	produce cg3 401 800
	wait_values 401 800 "$D"/b.out
	stop_member b INT
	[ "$mstatus" -eq 130 ] || fail "b exited $mstatus: $(cat "$D/b.err")"
	expect_exact 1 800 "$D"/a.out "$D"/b.out
}

# The broker holds a group's first JoinGroup for its initial rebalance
# delay (3 s).  Session and rebalance timeouts far beyond the waits below:
# only a LeaveGroup can free the place that quickly.
@test "SIGTERM during the first JoinGroup: the member is gone at once, the next gets every partition" {
	create_topic cg11 -p 3
	produce cg11 1 300
	member a g11 cg11 -X session.timeout.ms=120000 -X max.poll.interval.ms=120000
	wait_group_state g11 "PreparingRebalance 1" 20000
	kill -TERM "$(cat "$D/a.pid")"
	wait_pid_gone "$(cat "$D/a.pid")" 10 || fail "a did not exit within 10 s of SIGTERM"
	mstatus=0
	wait "$(cat "$D/a.pid")" || mstatus=$?
	[ "$mstatus" -eq 143 ] || fail "a exited $mstatus: $(cat "$D/a.err")"
	wait_group_state g11 "* 0" 1000
	# Not kept waiting for a's rebalance timeout (2 minutes).
	member b g11 cg11 -e
	wait_member b
	[ "$mstatus" -eq 0 ] || fail "b exited $mstatus: $(cat "$D/b.err")"
	expect_exact 1 300 "$D"/b.out
}

@test "SIGINT while the leader holds a follower's SyncGroup: the member is gone at once" {
	local i
	create_topic cg12 -p 2
	# A raw member leads the group and never sends SyncGroup.
	"$KQ_PY" "$KQ_INTEROP/group_held.py" lead "$KQ_PORT" g12 cg12 \
		< /dev/null > "$D/py.out" 2> "$D/py.err" 3>&- &
	echo $! > "$D/py.pid"
	track_pid $!
	wait_group_state g12 "PreparingRebalance 1" 20000
	member q g12 cg12 -X session.timeout.ms=120000 -X max.poll.interval.ms=120000
	for ((i = 0; i < 150; i++)); do
		[ -s "$D/py.out" ] && break
		sleep 0.2
	done
	[ "$(cat "$D/py.out")" = leader ] || fail "the raw member: $(cat "$D"/py.out "$D"/py.err)"
	wait_group_state g12 "CompletingRebalance 2" 1000
	stop_member q INT
	[ "$mstatus" -eq 130 ] || fail "q exited $mstatus: $(cat "$D/q.err")"
	wait_group_state g12 "PreparingRebalance 1" 1000
	kill "$(cat "$D/py.pid")"
}

@test "a paused reader does not cost the member its place in the group" {
	create_topic cg10 -p 2
	produce cg10 1 40000
	# a's reader sleeps for well over the session timeout with a full pipe.
	mkfifo "$D/fifo"
	: > "$D/a.out"
	(exec < "$D/fifo"; sleep 8; cat > "$D/a.out") 3>&- &
	track_pid $!
	kq-consume -g g10 -t cg10 -v -f '%p %o %s\n' -X session.timeout.ms=3000 \
		-X heartbeat.interval.ms=300 < /dev/null > "$D/fifo" 2> "$D/a.err" 3>&- &
	echo $! > "$D/a.pid"
	track_pid $!
	member b g10 cg10 -v -X session.timeout.ms=3000
	wait_values 1 40000 "$D"/a.out "$D"/b.out
	for m in a b; do
		stop_member "$m" TERM
		[ "$mstatus" -eq 143 ] || fail "$m exited $mstatus: $(cat "$D/$m.err")"
	done
	expect_exact 1 40000 "$D"/a.out "$D"/b.out
	expect_disjoint_partitions "$D"/a.out "$D"/b.out
	! grep -h 'rebalancing' "$D"/a.err "$D"/b.err || fail "the group rebalanced"
}

@test "--no-commit peeks; -o applies only to partitions without a committed offset" {
	create_topic cg7 -p 2
	produce cg7 1 100
	run --separate-stderr kqc -g g7 -t cg7 --no-commit -e -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/peek.out"
	expect_exact 1 100 "$D/peek.out"
	# Nothing was committed, so -o end applies, and its position is committed.
	run --separate-stderr kqc -g g7 -t cg7 -o end -e
	assert_status 0
	[ -z "$output" ] || fail "-o end read: ${output:0:200}"
	produce cg7 101 150
	# Now the commits win over -o beginning.
	run --separate-stderr kqc -g g7 -t cg7 -o beginning -e -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/new.out"
	expect_exact 101 150 "$D/new.out"
}

@test "a write error commits nothing that was not written" {
	[ -w /dev/full ] || skip "no /dev/full"
	create_topic cg9 -p 2
	produce cg9 1 1000
	run --separate-stderr bash -c 'timeout 60 kq-consume -g g9 -t cg9 -e > /dev/full'
	assert_status 1
	[[ $stderr == *"write error"* ]] || fail "no write error reported: $stderr"
	run --separate-stderr kqc -g g9 -t cg9 -e -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/after.out"
	expect_exact 1 1000 "$D/after.out"
}

@test "kcat -G and kq-consume -g in one group split the partitions" {
	have kcat || skip "kcat is not installed"
	create_topic cg5 -p 6
	produce cg5 1 6000
	kcat -b "$KQ_BROKERS" -G g5k -q -u -f '%p %o %s\n' -X auto.offset.reset=earliest cg5 \
		< /dev/null > "$D/k.out" 2> "$D/k.err" 3>&- &
	echo $! > "$D/k.pid"
	track_pid $!
	member q g5k cg5
	wait_values 1 6000 "$D"/k.out "$D"/q.out
	stop_member q TERM
	[ "$mstatus" -eq 143 ] || fail "kq-consume exited $mstatus: $(cat "$D/q.err")"
	stop_member k TERM
	expect_exact 1 6000 "$D"/k.out "$D"/q.out
	expect_disjoint_partitions "$D"/k.out "$D"/q.out
}

@test "kafka-python commits in a group; kq-consume -g resumes right after" {
	have_py_module kafka || skip "kafka-python is not installed"
	create_topic cg6 -p 3
	produce cg6 1 3000
	run --separate-stderr timeout 60 "$KQ_PY" "$KQ_INTEROP/group_kp.py" consume "$KQ_BROKERS" \
		g6p cg6 1000
	assert_status 0
	echo "$output" > "$D/p.out"
	run --separate-stderr kqc -g g6p -t cg6 -e -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/q.out"
	[ "$(wc -l < "$D/q.out")" -eq 2000 ] || fail "kq-consume read $(wc -l < "$D/q.out") records"
	expect_exact 1 3000 "$D"/p.out "$D"/q.out
}

@test "kafka-python leads the group: kq-consume -g reads exactly the partitions it was given" {
	local i p py kq
	have_py_module kafka || skip "kafka-python is not installed"
	create_topic cg8 -p 4
	produce cg8 1 400
	"$KQ_PY" "$KQ_INTEROP/group_kp.py" hold "$KQ_BROKERS" g8p cg8 "$D/ready" \
		< /dev/null > "$D/py.out" 2> "$D/py.err" 3>&- &
	echo $! > "$D/py.pid"
	track_pid $!
	# The first member to join leads, and stays leader after kq joins.
	for ((i = 0; i < 150; i++)); do
		[ -s "$D/ready" ] && break
		sleep 0.2
	done
	[ "$(cat "$D/ready" 2> /dev/null)" = "0 1 2 3" ] ||
		fail "kafka-python alone got '$(cat "$D/ready" 2> /dev/null)': $(cat "$D/py.err")"
	member q g8p cg8
	for ((i = 0; i < 150; i++)); do
		py=$(cat "$D/ready")
		[ "$py" != "0 1 2 3" ] && [ -s "$D/q.out" ] && break
		sleep 0.2
	done
	[ "$py" != "0 1 2 3" ] || fail "no rebalance after kq-consume joined: $(cat "$D/q.err")"
	# kq reads everything of its own partitions, and only those.
	kq=$(printf '%s\n' 0 1 2 3 | grep -vxF -f <(tr ' ' '\n' <<< "$py") | tr '\n' ' ')
	[ -n "$kq" ] || fail "kafka-python kept every partition: $py"
	for p in $kq; do
		kqc -t cg8 -p "$p" -e -f '%p %o %s\n' >> "$D/want.out"
	done
	for ((i = 0; i < 150; i++)); do
		[ "$(wc -l < "$D/q.out")" -ge "$(wc -l < "$D/want.out")" ] && break
		sleep 0.2
	done
	stop_member q TERM
	kill "$(cat "$D/py.pid")"
	awk '{ print $1, $2, $3 }' "$D/q.out" | sort > "$D/q.sorted"
	sort "$D/want.out" > "$D/want.sorted"
	cmp -s "$D/want.sorted" "$D/q.sorted" ||
		fail "kq-consume (partitions $kq) read $(wc -l < "$D/q.out") records, expected $(wc -l < "$D/want.out")"
}

# Last: it restarts the broker on a new port, which later tests would not see.
@test "committed offsets survive kill -9 of the broker; a new member resumes after them" {
	local i
	create_topic cg4 -p 3
	produce cg4 1 3000
	run --separate-stderr kqc -g g4d -t cg4 -c 1000 -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/a.out"
	[ "$(wc -l < "$D/a.out")" -eq 1000 ] || fail "-c 1000 wrote $(wc -l < "$D/a.out") lines"
	kill9_broker
	start_broker "${BROKER_ARGS[@]}"
	run --separate-stderr kqc -g g4d -t cg4 -e -f '%p %o %s\n'
	assert_status 0
	echo "$output" > "$D/b.out"
	expect_exact 1 3000 "$D"/a.out "$D"/b.out
	# With the broker gone, SIGTERM still ends a member well before --timeout
	# (2m): retries stop, and the final commit gives up with the session.
	member z g4d cg4 -v -X session.timeout.ms=3000
	for ((i = 0; i < 150; i++)); do
		grep -q 'generation' "$D/z.err" && break
		sleep 0.2
	done
	grep -q 'generation' "$D/z.err" || fail "z did not join: $(cat "$D/z.err")"
	kill9_broker
	stop_member z TERM
	[ "$mstatus" -eq 143 ] || fail "z exited $mstatus: $(cat "$D/z.err")"
}
