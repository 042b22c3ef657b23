# Shared helpers for kq's end-to-end tests (bats-core >= 1.5).
#
# Every .bats file does `load helpers` at top level.  The default setup_file
# starts one standalone kq-broker on 127.0.0.1:0 with its data in
# $BATS_FILE_TMPDIR/data and exports KQ_PORT and KQ_BROKERS (the CLIs read
# KQ_BROKERS as the default for -b); teardown_file stops it.  Every process a
# helper starts is recorded by PID in $BATS_FILE_TMPDIR/pids and killed by PID
# in teardown_file, so a failing test never leaves a broker behind.
#
# shellcheck shell=bash disable=SC2154,SC2034,SC2119,SC2120

bats_require_minimum_version 1.5.0

KQ_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
if [ -z "${KQ_BIN:-}" ]; then
	KQ_BIN="$KQ_TOP/bin"
fi
export KQ_BIN
PATH="$KQ_BIN:$PATH"
export PATH
# Interop clients must be Debian's, with Debian's python modules.
KQ_PY=${KQ_PY:-/usr/bin/python3}
KQ_INTEROP="$KQ_TOP/tests/interop"
KQ_FIXTURES="$KQ_TOP/tests/fixtures/e2e"
# Seconds to wait for the ready line (sanitizer builds start slowly).
KQ_READY_TIMEOUT=${KQ_READY_TIMEOUT:-20}
# No config file from the machine running the tests may leak in.
export KQ_CONFIG=/dev/null
unset KQ_PROFILE
export LC_ALL=C

# Every tool run is bounded, so a hung tool fails its test instead of the
# whole suite.
KQ_TOOL_TIMEOUT=${KQ_TOOL_TIMEOUT:-60}
kqp() {
	timeout -k 5 "$KQ_TOOL_TIMEOUT" kq-produce "$@"
}
kqc() {
	timeout -k 5 "$KQ_TOOL_TIMEOUT" kq-consume "$@"
}
kqt() {
	timeout -k 5 "$KQ_TOOL_TIMEOUT" kq-topics "$@"
}

# Remember a background PID so teardown_file kills it even after a failure.
track_pid() {
	echo "$1" >> "$BATS_FILE_TMPDIR/pids"
}

# Log file of the broker started by start_broker.
broker_log() {
	echo "${KQ_BROKER_LOG:-$BATS_FILE_TMPDIR/broker.log}"
}

# Print the last lines of the broker log (for failure messages).
broker_log_tail() {
	local log
	log=$(broker_log)
	if [ -f "$log" ]; then
		echo "--- last 40 lines of $log ---"
		tail -n 40 "$log"
		echo "--- end of broker log ---"
	fi
}

# start_broker [extra kq-broker args...]
# Data dir: $KQ_DATA_DIR if set, else $BATS_FILE_TMPDIR/data.  Sets and exports
# KQ_PORT, KQ_BROKERS, KQ_BROKER_PID, KQ_DATA.  Returns 1 (with the log tail on
# stdout) when the broker dies or does not print its ready line in time.
start_broker() {
	local data log lines port deadline pid
	data=${KQ_DATA_DIR:-$BATS_FILE_TMPDIR/data}
	log=$(broker_log)
	mkdir -p "$(dirname "$data")"
	touch "$log"
	lines=$(wc -l < "$log")
	# fd 3 must be closed, otherwise bats waits for the broker to exit.
	kq-broker --listen 127.0.0.1:0 --data-dir "$data" "$@" \
		< /dev/null > /dev/null 2>> "$log" 3>&- &
	pid=$!
	track_pid "$pid"
	deadline=$((SECONDS + KQ_READY_TIMEOUT))
	port=
	while [ "$SECONDS" -le "$deadline" ]; do
		port=$(tail -n +"$((lines + 1))" "$log" |
			sed -n 's/.*kq-broker: ready on 127\.0\.0\.1:\([0-9][0-9]*\) (node .*/\1/p' |
			head -n 1)
		[ -n "$port" ] && break
		if ! kill -0 "$pid" 2> /dev/null; then
			echo "kq-broker (pid $pid) exited before it was ready"
			broker_log_tail
			return 1
		fi
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "kq-broker (pid $pid) printed no ready line within ${KQ_READY_TIMEOUT}s"
		broker_log_tail
		kill -9 "$pid" 2> /dev/null
		return 1
	fi
	KQ_PORT=$port
	KQ_BROKERS=127.0.0.1:$port
	KQ_BROKER_PID=$pid
	KQ_DATA=$data
	export KQ_PORT KQ_BROKERS KQ_BROKER_PID KQ_DATA
	echo "$pid" > "$BATS_FILE_TMPDIR/broker.pid"
}

# True if PID is alive and not a zombie.
pid_alive() {
	local st
	kill -0 "$1" 2> /dev/null || return 1
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2> /dev/null)
	[ "$st" != Z ]
}

# Wait up to $2 seconds (default 10) for PID $1 to exit.  Does not reap it,
# so the caller can still `wait PID` for its status.
wait_pid_gone() {
	local pid=$1 limit=${2:-10} i=0
	while pid_alive "$pid"; do
		[ "$i" -ge $((limit * 20)) ] && return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 0
}

# Reap PID if it is our child; ignore "not a child" errors.
reap() {
	wait "$1" 2> /dev/null || true
}

# stop_broker [PID]: SIGTERM, wait up to 15 s, then SIGKILL.  Returns 1 when
# the broker had to be killed (a clean shutdown is part of the contract).
stop_broker() {
	local pid=${1:-}
	[ -n "$pid" ] || pid=$(cat "$BATS_FILE_TMPDIR/broker.pid" 2> /dev/null)
	[ -n "$pid" ] || return 0
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2> /dev/null
	if ! wait_pid_gone "$pid" 15; then
		echo "kq-broker (pid $pid) ignored SIGTERM for 15s; killed"
		kill -9 "$pid" 2> /dev/null
		wait_pid_gone "$pid" 5
		reap "$pid"
		return 1
	fi
	reap "$pid"
}

# kill9_broker [PID]: crash the broker.
kill9_broker() {
	local pid=${1:-}
	[ -n "$pid" ] || pid=$(cat "$BATS_FILE_TMPDIR/broker.pid" 2> /dev/null)
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2> /dev/null
	wait_pid_gone "$pid" 10
	reap "$pid"
}

# Kill everything recorded in the pid file (last resort, by PID only).
kill_tracked() {
	local f="$BATS_FILE_TMPDIR/pids" pid
	[ -f "$f" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] || continue
		if pid_alive "$pid"; then
			kill -TERM "$pid" 2> /dev/null
		fi
	done < "$f"
	while read -r pid; do
		[ -n "$pid" ] || continue
		if ! wait_pid_gone "$pid" 5; then
			kill -9 "$pid" 2> /dev/null
			wait_pid_gone "$pid" 2
		fi
		reap "$pid"
	done < "$f"
	: > "$f"
}

setup_file() {
	start_broker
}

teardown_file() {
	stop_broker
	kill_tracked
}

# On failure, show what the broker said.
teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		broker_log_tail
	fi
}

# Fail with a message (use inside tests).
fail() {
	echo "$*"
	return 1
}

# create_topic NAME [kq-topics create args...]
create_topic() {
	local t=$1
	shift
	run --separate-stderr kqt create "$t" "$@"
	if [ "$status" -ne 0 ]; then
		echo "kq-topics create $t $* exited $status: $stderr"
		return 1
	fi
}

# Compare two files; on difference show the first lines of a diff.
assert_same_file() {
	if ! cmp -s "$1" "$2"; then
		echo "files differ: $1 ($(wc -c < "$1") bytes) vs $2 ($(wc -c < "$2") bytes)"
		cmp "$1" "$2" | head -n 3
		diff <(head -c 200000 "$1" | od -c | head -n 2000) \
			<(head -c 200000 "$2" | od -c | head -n 2000) | head -n 20
		return 1
	fi
}

# assert_status WANT: after `run`, show stdout/stderr when the status differs.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "exit status $status, expected $1"
		echo "stdout: ${output:0:2000}"
		echo "stderr: ${stderr:-}"
		return 1
	fi
}

# Milliseconds since the epoch.
now_ms() {
	date +%s%3N
}

# Does the command exist?  Used to skip interop tests only when a client is
# truly missing.
have() {
	command -v "$1" > /dev/null 2>&1
}

have_py_module() {
	[ -x "$KQ_PY" ] && "$KQ_PY" -c "import $1" 2> /dev/null
}

# wait_for_text FILE TEXT [SECONDS]: until FILE contains TEXT (20 s at
# most by default); else fail, showing the end of FILE.
wait_for_text() {
	local i limit=${3:-20}
	for ((i = 0; i < limit * 10; i++)); do
		grep -qF -- "$2" "$1" 2> /dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1 within ${limit}s: $(tail -n 5 "$1" 2> /dev/null)"
}

# ---- cluster mode: a real ZooKeeper and brokers registered in it ----

# A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
free_port() {
	"$KQ_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# zk4 WORD: ZooKeeper's four-letter word WORD to $KQ_ZK; prints the answer.
zk4() {
	timeout 2 bash -c 'exec 5<>"/dev/tcp/${1%:*}/${1##*:}" && printf %s "$2" >&5 && cat <&5' \
		zk4 "$KQ_ZK" "$1" 2> /dev/null
}

# zk_start: Debian's ZooKeeper on 127.0.0.1 with a 200 ms tick (sessions of
# 0.4..60 s) and its data in $BATS_FILE_TMPDIR/zk.  A restart reuses the
# port and the data.  Sets and exports KQ_ZK (HOST:PORT) and KQ_ZK_PID;
# returns 1 when it does not answer ruok within 30 s.
zk_start() {
	local dir=$BATS_FILE_TMPDIR/zk port deadline
	mkdir -p "$dir/data"
	port=${KQ_ZK##*:}
	[ -n "$port" ] || port=$(free_port)
	cat > "$dir/zoo.cfg" <<-CFG
		tickTime=200
		initLimit=10
		syncLimit=5
		dataDir=$dir/data
		clientPort=$port
		clientPortAddress=127.0.0.1
		minSessionTimeout=400
		maxSessionTimeout=60000
		admin.enableServer=false
		4lw.commands.whitelist=ruok,srvr
	CFG
	java -Dzookeeper.log.dir="$dir" -cp "/usr/share/java/zookeeper.jar:/usr/share/java/*" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		< /dev/null >> "$dir/zk.log" 2>&1 3>&- &
	KQ_ZK_PID=$!
	track_pid "$KQ_ZK_PID"
	KQ_ZK=127.0.0.1:$port
	export KQ_ZK KQ_ZK_PID
	deadline=$((SECONDS + 30))
	while [ "$(zk4 ruok)" != imok ]; do
		if [ "$SECONDS" -gt "$deadline" ] || ! pid_alive "$KQ_ZK_PID"; then
			echo "ZooKeeper did not answer ruok on $KQ_ZK"
			tail -n 20 "$dir/zk.log"
			return 1
		fi
		sleep 0.1
	done
}

# zk_stop: stop the ZooKeeper zk_start started, by PID.
zk_stop() {
	[ -n "${KQ_ZK_PID:-}" ] || return 0
	kill -TERM "$KQ_ZK_PID" 2> /dev/null
	wait_pid_gone "$KQ_ZK_PID" 15 || kill -9 "$KQ_ZK_PID" 2> /dev/null
	wait_pid_gone "$KQ_ZK_PID" 5
	reap "$KQ_ZK_PID"
	KQ_ZK_PID=
}

# Brokers use $KQ_ZK$KQ_ZK_ROOT, so tests sharing one ZooKeeper can each
# have their own chroot; zkget and zkset take paths below it.
KQ_ZK_ROOT=${KQ_ZK_ROOT:-}

# zkget PATH: the znode's data, then "czxid N owner N"; zkset PATH DATA.
zkget() {
	timeout 30 "$KQ_PY" "$KQ_INTEROP/zk.py" "$KQ_ZK" get "$KQ_ZK_ROOT$1"
}
zkset() {
	timeout 30 "$KQ_PY" "$KQ_INTEROP/zk.py" "$KQ_ZK" set "$KQ_ZK_ROOT$1" "$2"
}

# Session timeout of the cluster tests' brokers (ms): short, so a crash is
# noticed in seconds.
KQ_ZK_SESSION_MS=${KQ_ZK_SESSION_MS:-3000}

# cluster_broker N [args...]: broker N (data in DIR/bN, log DIR/bN.log,
# DIR=${KQ_CLUSTER_DIR:-$BATS_FILE_TMPDIR}) registered in $KQ_ZK$KQ_ZK_ROOT
# with --id N.  Sets KQ_PORT_N and KQ_PID_N.
cluster_broker() {
	local n=$1 dir=${KQ_CLUSTER_DIR:-$BATS_FILE_TMPDIR}
	shift
	KQ_DATA_DIR=$dir/b$n KQ_BROKER_LOG=$dir/b$n.log \
		start_broker --zookeeper "$KQ_ZK$KQ_ZK_ROOT" --id "$n" \
		-X zookeeper.session.timeout.ms="$KQ_ZK_SESSION_MS" "$@" || return 1
	eval "KQ_PORT_$n=\$KQ_PORT KQ_PID_$n=\$KQ_BROKER_PID"
	export "KQ_PORT_$n" "KQ_PID_$n"
}

# cluster_start N: ZooKeeper (unless running) and brokers 1..N; KQ_BROKERS
# lists them all.
cluster_start() {
	local i list=
	[ -n "${KQ_ZK_PID:-}" ] || zk_start || return 1
	for i in $(seq 1 "$1"); do
		cluster_broker "$i" || return 1
		list=${list:+$list,}127.0.0.1:$KQ_PORT
	done
	KQ_BROKERS=$list
	export KQ_BROKERS
}
