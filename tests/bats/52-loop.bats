#!/usr/bin/env bats
# The broker's event loop under connection-level abuse (issue 9, section 3):
# the listen backlog it asks for, max.connections with 10,000 idle
# connections, slowloris and kq.request.read.timeout.ms, and the watchdog
# that names a callback holding the loop (KQ_TEST_STALL, see watch.c).
# Timing is only ever asserted as "no hang": every client wait is bounded
# by a 5 s timeout inside loop_conns.py.

bats_require_minimum_version 1.5.0
load helpers

CONNS="$KQ_INTEROP/loop_conns.py"
HOLD=10000
READ_TIMEOUT_MS=2000
BACKLOG=2000

# Enough descriptors for HOLD connections in the broker (plus its
# partitions) and in the test's client.
raise_nofile() {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=1048576
	[ "$hard" -ge $((HOLD + 500)) ] || return 1
	ulimit -n $((hard < HOLD + 2000 ? hard : HOLD + 2000))
}

setup_file() {
	raise_nofile || true
	# Test hook: every Produce holds the loop 300 ms (the last test).
	export KQ_TEST_STALL=Produce:300
	start_broker -X max.connections=$HOLD -X kq.request.read.timeout.ms=$READ_TIMEOUT_MS \
		-X socket.listen.backlog.size=$BACKLOG -X kq.loop.stall.ms=100
	unset KQ_TEST_STALL
}

# Poll the broker log for an extended regexp, up to $2 seconds.
wait_log() {
	local i=0
	until grep -Eq "$1" "$(broker_log)"; do
		[ "$i" -ge $(($2 * 20)) ] && return 1
		sleep 0.05
		i=$((i + 1))
	done
}

@test "the listening socket keeps the backlog the broker asked for" {
	local somax want
	somax=$(cat /proc/sys/net/core/somaxconn)
	want=$((BACKLOG < somax ? BACKLOG : somax))
	run ss -ltnH "sport = :$KQ_PORT"
	assert_status 0
	# Send-Q of a listening socket is its accept backlog (libevent used to
	# listen again with 128 over the broker's own listen(2)).
	[ "$(echo "$output" | awk '{print $3}')" = "$want" ] || fail "ss: $output (want $want)"
}

@test "at max.connections with $HOLD idle connections: extras refused, one log line, freed slots serve a new client" {
	raise_nofile || skip "hard RLIMIT_NOFILE $(ulimit -Hn) is below $((HOLD + 500))"
	local before
	before=$(grep -c 'max.connections' "$(broker_log)" || true)
	run timeout -k 5 180 "$KQ_PY" "$CONNS" limit "$KQ_PORT" "$HOLD" 300 20
	echo "$output"
	assert_status 0
	[[ "$output" == *"held $HOLD"* ]] || fail "not all held: $output"
	# One connect at a time never fills a $BACKLOG-deep accept queue; the
	# 128 libevent used to set made 25-61 of these SYNs wait a second here.
	local again
	again=$(echo "$output" | sed -n 's/^syn retransmits //p')
	[ -n "$again" ] && [ "$again" -lt 5 ] || fail "$again connections retransmitted their SYN"
	[[ "$output" == *"refused 300"* ]] || fail "extras not refused: $output"
	[[ "$output" == *"probe answered in "* ]] || fail "no probe: $output"
	# 300 refusals in well under 10 s: one line, not 300.
	wait_log 'max.connections \(10000\) reached: refused 1 connection$' 5 ||
		fail "no refusal line"
	[ "$(grep -c 'max.connections' "$(broker_log)")" -eq $((before + 1)) ] ||
		fail "$(grep -c 'max.connections' "$(broker_log)") refusal lines"
}

@test "a slowloris client is closed after kq.request.read.timeout.ms; other clients are served throughout" {
	run timeout -k 5 60 "$KQ_PY" "$CONNS" slowloris "$KQ_PORT" 20 20
	echo "$output"
	assert_status 0
	local min
	min=$(echo "$output" | sed -n 's/^slow closed 20 after \([0-9]*\)\.\..*/\1/p')
	[ -n "$min" ] || fail "not all slow connections closed: $output"
	# Never before the timeout (a little slack for the client's own clock).
	[ "$min" -ge $((READ_TIMEOUT_MS - 100)) ] || fail "closed after only $min ms"
	[[ "$output" == *"probes "* ]] || fail "no probes: $output"
	wait_log "no whole request within $READ_TIMEOUT_MS ms of its first byte; closing" 5 ||
		fail "no log line for the slow connections"
}

@test "the read timeout counts from a request's first byte, not from idleness" {
	# Idle 1.2 s, then a request in two pieces 1.2 s apart: 2.4 s in all,
	# more than the 2 s timeout, but the request itself took 1.2 s.
	run timeout -k 5 30 "$KQ_PY" "$CONNS" pieces "$KQ_PORT" 1200
	echo "$output"
	assert_status 0
	[ "$output" = answered ]
}

@test "the watchdog names a stall: callback, API, version, client and partition" {
	create_topic stall -p 1
	run --separate-stderr bash -c 'echo one | timeout -k 5 60 kq-produce -t stall -p 0'
	assert_status 0
	wait_log "loop stalled [0-9]+ ms in request: Produce v[0-9]+ from 127\.0\.0\.1:[0-9]+ \(client 'kq-produce'\), partition stall-0$" 10 ||
		fail "no stall line: $(grep stalled "$(broker_log)")"
	local ms
	ms=$(sed -n 's/.*loop stalled \([0-9]*\) ms in request: Produce.*/\1/p' "$(broker_log)" | tail -n 1)
	# The hook sleeps 300 ms; the coarse clock ticks in a few ms.
	[ "$ms" -ge 280 ] || fail "stall of $ms ms"
}
