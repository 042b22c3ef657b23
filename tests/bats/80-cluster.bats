#!/usr/bin/env bats
# Cluster mode, part 1: brokers register in a real ZooKeeper (Debian's
# zookeeper package).  One ZooKeeper serves the file; each test has its own
# chroot and data directories, so tests do not see each other's brokers.
# The test that restarts ZooKeeper goes last.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	zk_start
}

teardown_file() {
	kill_tracked
}

setup() {
	export KQ_ZK_ROOT=/t$BATS_TEST_NUMBER
	export KQ_CLUSTER_DIR=$BATS_TEST_TMPDIR
	export KQ_BROKER_LOG=$BATS_TEST_TMPDIR/b1.log
}

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		broker_log_tail
		tail -n 5 "$BATS_TEST_TMPDIR"/b*.log 2> /dev/null
	fi
	# Brokers only: ZooKeeper is the first tracked PID and serves the file.
	local pid
	for pid in ${KQ_PID_1:-} ${KQ_PID_2:-}; do
		stop_broker "$pid" || true
	done
}

# zk_czxid PATH: the czxid of PATH, empty if it does not exist.
zk_czxid() {
	zkget "$1" 2> /dev/null | sed -n 's/^czxid \([0-9]*\) owner .*/\1/p'
}

# wait_znode_gone PATH SECONDS
wait_znode_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -z "$(zk_czxid "$1")" ] && return 0
		sleep 0.1
	done
	fail "$KQ_ZK_ROOT$1 still exists after $2 s"
}

@test "a broker registers in Kafka's JSON (version 5) under its chroot, created if missing; epoch = czxid" {
	cluster_broker 1
	run zkget /brokers/ids/1
	assert_status 0
	local json=${lines[0]} czxid
	czxid=$(echo "${lines[1]}" | sed -n 's/^czxid \([0-9]*\) owner [1-9][0-9]*$/\1/p')
	[ -n "$czxid" ] || fail "not an ephemeral node: ${lines[1]}"
	"$KQ_PY" - "$json" "$KQ_PORT" <<-'PY'
		import json, sys
		d = json.loads(sys.argv[1]); port = int(sys.argv[2])
		assert d["version"] == 5, d
		assert d["host"] == "127.0.0.1" and d["port"] == port, d
		assert d["endpoints"] == ["PLAINTEXT://127.0.0.1:%d" % port], d
		assert d["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}, d
		assert d["jmx_port"] == -1 and d["rack"] is None and d["features"] == {}, d
		assert int(d["timestamp"]) > 0, d
	PY
	grep -q "registered broker 1 at 127.0.0.1:$KQ_PORT in $KQ_ZK$KQ_ZK_ROOT, epoch $czxid\$" \
		"$KQ_BROKER_LOG" || fail "no registration line with epoch $czxid"
	# Standalone still needs no ZooKeeper: the same tool answers as before.
	kqt create t1 -p 2
	kqt list | grep -qx t1
}

@test "--advertise HOST:PORT is what the registration carries" {
	cluster_broker 1 --advertise localhost:19092
	run zkget /brokers/ids/1
	assert_status 0
	[[ ${lines[0]} == *'"endpoints":["PLAINTEXT://localhost:19092"]'* ]] || fail "${lines[0]}"
	[[ ${lines[0]} == *'"host":"localhost"'*'"port":19092'* ]] || fail "${lines[0]}"
}

@test "a second broker with a live broker's id exits non-zero with a clear message" {
	cluster_broker 1
	local czxid
	czxid=$(zk_czxid /brokers/ids/1)
	KQ_DATA_DIR=$BATS_TEST_TMPDIR/dup KQ_BROKER_LOG=$BATS_TEST_TMPDIR/dup.log \
		run -1 start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" --id 1 \
		-X zookeeper.session.timeout.ms="$KQ_ZK_SESSION_MS"
	grep -q "broker id 1 is already registered in ZooKeeper by a live session" \
		"$BATS_TEST_TMPDIR/dup.log" || fail "$(cat "$BATS_TEST_TMPDIR/dup.log")"
	# The first one is untouched.
	[ "$(zk_czxid /brokers/ids/1)" = "$czxid" ]
	pid_alive "$KQ_PID_1"
}

@test "SIGTERM removes the registration at once" {
	cluster_broker 1
	[ -n "$(zk_czxid /brokers/ids/1)" ]
	stop_broker "$KQ_PID_1"
	# Gone at once, not after the session timeout.
	run zkget /brokers/ids/1
	assert_status 1
}

@test "kill -9, restart before the session expires: the broker waits the old node out and registers" {
	cluster_broker 1
	local old new
	old=$(zk_czxid /brokers/ids/1)
	kill9_broker "$KQ_PID_1"
	# The old ephemeral is still there when the new broker starts.
	[ "$(zk_czxid /brokers/ids/1)" = "$old" ]
	cluster_broker 1
	grep -q "/brokers/ids/1 exists; waiting up to" "$KQ_BROKER_LOG"
	new=$(zk_czxid /brokers/ids/1)
	[ -n "$new" ] && [ "$new" -gt "$old" ] || fail "czxid $old -> $new"
}

@test "/cluster/id is created once in Kafka's JSON, kept in meta.properties, stable across restarts" {
	cluster_broker 1
	run zkget /cluster/id
	assert_status 0
	local id
	id=$(echo "${lines[0]}" | sed -n 's/^{"version":"1","id":"\([A-Za-z0-9_-]\{22\}\)"}$/\1/p')
	[ -n "$id" ] || fail "/cluster/id: ${lines[0]}"
	grep -qx "cluster.id=$id" "$BATS_TEST_TMPDIR/b1/meta.properties"
	grep -qx "broker.id=1" "$BATS_TEST_TMPDIR/b1/meta.properties"
	grep -qx "version=0" "$BATS_TEST_TMPDIR/b1/meta.properties"
	# A second broker and a restart see the same id; nobody rewrites it.
	cluster_broker 2
	grep -qx "cluster.id=$id" "$BATS_TEST_TMPDIR/b2/meta.properties"
	stop_broker "$KQ_PID_1"
	cluster_broker 1
	run zkget /cluster/id
	[ "${lines[0]}" = "{\"version\":\"1\",\"id\":\"$id\"}" ]
}

@test "a data directory that belongs to another cluster is refused" {
	cluster_broker 1
	stop_broker "$KQ_PID_1"
	# The same data directory, pointed at another cluster (chroot).
	KQ_ZK_ROOT=$KQ_ZK_ROOT-other run -1 cluster_broker 1
	grep -q "this data directory belongs to cluster .*, but ZooKeeper .*-other holds cluster .*; refusing to start" \
		"$KQ_BROKER_LOG" || fail "$(tail -n 5 "$KQ_BROKER_LOG")"
}

@test "without --id the id comes from /brokers/seqid (1001, 1002), is kept in meta.properties and reused" {
	local d=$BATS_TEST_TMPDIR
	KQ_DATA_DIR=$d/a KQ_BROKER_LOG=$d/a.log start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" \
		-X zookeeper.session.timeout.ms="$KQ_ZK_SESSION_MS"
	local a=$KQ_BROKER_PID
	KQ_DATA_DIR=$d/b KQ_BROKER_LOG=$d/b.log start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" \
		-X zookeeper.session.timeout.ms="$KQ_ZK_SESSION_MS"
	local b=$KQ_BROKER_PID
	grep -qx "broker.id=1001" "$d/a/meta.properties"
	grep -qx "broker.id=1002" "$d/b/meta.properties"
	zkget /brokers/ids/1001 > /dev/null
	zkget /brokers/ids/1002 > /dev/null
	stop_broker "$a"
	KQ_DATA_DIR=$d/a KQ_BROKER_LOG=$d/a.log start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" \
		-X zookeeper.session.timeout.ms="$KQ_ZK_SESSION_MS"
	a=$KQ_BROKER_PID
	grep -q "ready on .* (node 1001, cluster" "$d/a.log"
	zkget /brokers/ids/1001 > /dev/null
	# An explicit id that contradicts the kept one is refused.
	stop_broker "$a"
	KQ_DATA_DIR=$d/a KQ_BROKER_LOG=$d/a.log run -1 start_broker \
		--zookeeper "$KQ_ZK$KQ_ZK_ROOT" --id 7
	grep -q "broker.id=1001 but this node is 7; refusing to start" "$d/a.log"
	stop_broker "$b"
}

@test "a malformed, wrongly typed or oversized /cluster/id is refused with a message, no crash" {
	local bad k=0
	for bad in 'not json' '[1,2]' '{"version":"1","id":7}' '{"version":"1"}' \
		'{"version":"1","id":"a\"b"}' "{\"id\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}"; do
		k=$((k + 1))
		zkset /cluster/id "$bad"
		KQ_DATA_DIR=$BATS_TEST_TMPDIR/d$k KQ_BROKER_LOG=$BATS_TEST_TMPDIR/d$k.log \
			run -1 start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" --id 1
		grep -q "kq-broker: warning: .*/cluster/id: " "$BATS_TEST_TMPDIR/d$k.log" ||
			fail "$bad: $(tail -n 3 "$BATS_TEST_TMPDIR/d$k.log")"
	done
	# Still not registered, and a proper id lets a broker in.
	run zkget /brokers/ids/1
	assert_status 1
	zkset /cluster/id '{"version":"1","id":"AAAAAAAAAAAAAAAAAAAAAA"}'
	cluster_broker 1
	grep -qx "cluster.id=AAAAAAAAAAAAAAAAAAAAAA" "$BATS_TEST_TMPDIR/b1/meta.properties"
}

@test "session expiry (broker stopped beyond its session): a new session registers again, new epoch" {
	KQ_ZK_SESSION_MS=1000 cluster_broker 1
	local old new
	old=$(zk_czxid /brokers/ids/1)
	kill -STOP "$KQ_PID_1"
	wait_znode_gone /brokers/ids/1 20
	kill -CONT "$KQ_PID_1"
	wait_for_text "$KQ_BROKER_LOG" "broker 1 registered again, epoch" 20
	grep -q "session expired; opening a new one" "$KQ_BROKER_LOG"
	new=$(zk_czxid /brokers/ids/1)
	[ -n "$new" ] && [ "$new" -gt "$old" ] || fail "czxid $old -> $new"
	grep -q "registered again, epoch $new\$" "$KQ_BROKER_LOG"
	kqt list > /dev/null
}

@test "ZooKeeper restarted within the session timeout: the registration is unchanged (same czxid)" {
	KQ_ZK_SESSION_MS=30000 cluster_broker 1
	local czxid
	czxid=$(zk_czxid /brokers/ids/1)
	[ -n "$czxid" ]
	zk_stop
	zk_start
	[ "$(zk_czxid /brokers/ids/1)" = "$czxid" ]
	# The broker's session is back, not a new one; it served meanwhile.
	wait_for_text "$KQ_BROKER_LOG" "zookeeper: connected again, session and registration kept" 20
	! grep -q "session expired" "$KQ_BROKER_LOG"
	kqt list > /dev/null
	stop_broker "$KQ_PID_1"
	run zkget /brokers/ids/1
	assert_status 1
}
