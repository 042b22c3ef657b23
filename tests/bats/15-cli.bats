#!/usr/bin/env bats
# Conventions every tool shares (CLI.md section 1): exit codes, usage errors,
# --help and --version, EPIPE handling, broker-down behaviour.

bats_require_minimum_version 1.5.0
load helpers

PROGS="kq-produce kq-consume kq-topics kq-groups kq-broker"

@test "--version and -V print 'PROG (kq) X.Y.Z' on stdout and exit 0" {
	for p in $PROGS; do
		for opt in --version -V; do
			run --separate-stderr "$p" "$opt"
			assert_status 0
			[[ "$output" =~ ^$p\ \(kq\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
				fail "$p $opt printed: $output"
			[ -z "$stderr" ] || fail "$p $opt wrote to stderr: $stderr"
		done
	done
}

@test "-h and --help print help on stdout, nothing on stderr, exit 0" {
	for p in $PROGS; do
		for opt in -h --help; do
			run --separate-stderr "$p" "$opt"
			assert_status 0
			[ "${#lines[@]}" -ge 5 ] || fail "$p $opt: short help: $output"
			[[ "$output" == *"--help"* ]] || fail "$p $opt: help does not mention --help"
			[ -z "$stderr" ] || fail "$p $opt wrote to stderr: $stderr"
		done
	done
}

@test "an unknown option is a usage error: exit 2, one line plus Try 'PROG --help'." {
	for p in $PROGS; do
		run --separate-stderr "$p" --no-such-option
		assert_status 2
		[ -z "$output" ] || fail "$p wrote to stdout on a usage error: $output"
		[[ "$stderr" == "$p: "* ]] || fail "$p: diagnostic not prefixed: $stderr"
		[[ "$stderr" == *"Try '$p --help'."* ]] || fail "$p: no Try line: $stderr"
		[ "$(printf '%s\n' "$stderr" | grep -c "Try '$p --help'.")" -eq 1 ]
	done
}

@test "one wording for a missing value and an unknown option, from each program's table" {
	local p long short
	for p in $PROGS; do
		# The first option of the table that takes a value and has a letter.
		read -r long short < <("$p" --list-options | awk '$2 != "-" && $3 == "required" &&
			$4 != "hidden" { print $1, $2; exit }')
		[ -n "$long" ] || fail "$p --list-options: no option with a value"
		run --separate-stderr "$p" "$long"
		assert_status 2
		[ "$stderr" = "$p: option '$long' needs a value"$'\n'"Try '$p --help'." ] ||
			fail "$p $long: $stderr"
		run --separate-stderr "$p" "$short"
		assert_status 2
		[ "$stderr" = "$p: option '$short' needs a value"$'\n'"Try '$p --help'." ] ||
			fail "$p $short: $stderr"
		run --separate-stderr "$p" --versio=1
		assert_status 2
		[ "$stderr" = "$p: unknown option '--versio' (did you mean '--version'?)"$'\n'"Try '$p --help'." ] ||
			fail "$p --versio=1: $stderr"
		run --separate-stderr "$p" --version=1
		assert_status 2
		[[ "$stderr" == "$p: option '--version' takes no value"$'\n'* ]] || fail "$p: $stderr"
		run --separate-stderr "$p" -%
		assert_status 2
		[[ "$stderr" == "$p: unknown option '-%'"$'\n'* ]] || fail "$p -%: $stderr"
	done
}

@test "bad option values are usage errors (exit 2)" {
	create_topic usage -p 1
	run --separate-stderr kqp -t usage -a 7 < /dev/null
	assert_status 2
	run --separate-stderr kqp -t usage -z rar < /dev/null
	assert_status 2
	run --separate-stderr kqp -t usage -f yaml < /dev/null
	assert_status 2
	run --separate-stderr kqp -t usage -X no.such.property=1 < /dev/null
	assert_status 2
	run --separate-stderr kqp < /dev/null
	assert_status 2
	[[ "$stderr" == *"Try 'kq-produce --help'."* ]]
	run --separate-stderr kqc -t usage -o 'not-an-offset' -e
	assert_status 2
	run --separate-stderr kqc -t usage -c many -e
	assert_status 2
	run --separate-stderr kqc -t usage --idle-timeout 5 -e
	assert_status 2
	[[ "$stderr" == *"Try 'kq-consume --help'."* ]]
	run --separate-stderr kqt frobnicate
	assert_status 2
}

@test "a missing topic is exit 3 with a hint, for produce and consume" {
	run --separate-stderr kqp -t no-such-topic <<< "x"
	assert_status 3
	[[ "$stderr" == *"kq-produce: topic 'no-such-topic' does not exist"* ]] ||
		fail "stderr: $stderr"
	[ -z "$output" ]
	run --separate-stderr kqc -t no-such-topic -e
	assert_status 3
	[[ "$stderr" == *"'no-such-topic'"* ]] || fail "stderr: $stderr"
	# The failed attempts did not create it.
	run --separate-stderr kqt list
	assert_status 0
	[[ "$output" != *no-such-topic* ]] || fail "topic was auto-created: $output"
	# A missing partition is exit 3 too.
	create_topic onepart -p 1
	run --separate-stderr kqp -t onepart -p 5 <<< "x"
	assert_status 3
	run --separate-stderr kqc -t onepart -p 5 -e
	assert_status 3
}

@test "kq-produce --create creates a missing topic" {
	run --separate-stderr kqp -t made-on-demand --create <<< "hello"
	assert_status 0
	run --separate-stderr kqc -t made-on-demand -e
	assert_status 0
	[ "$output" = hello ]
}

@test "kq-consume | head -1 exits 0 without broken-pipe noise under pipefail" {
	"$BATS_TEST_DIRNAME/../fixtures/e2e/gen-lines" 100000 plain > "$BATS_TEST_TMPDIR/in"
	create_topic big -p 1
	kqp -t big "$BATS_TEST_TMPDIR/in"
	run --separate-stderr timeout 60 bash -c 'set -o pipefail; kq-consume -t big -e | head -n 1'
	assert_status 0
	[ "$output" = "$(head -n 1 "$BATS_TEST_TMPDIR/in")" ]
	[ -z "$stderr" ] || fail "stderr not empty: $stderr"
	# Also without -e (follow mode), and with json output.
	run --separate-stderr timeout 60 bash -c 'set -o pipefail; kq-consume -t big -f json | head -n 2 > /dev/null'
	assert_status 0
	[ -z "$stderr" ] || fail "stderr not empty: $stderr"
}

@test "-b/KQ_BROKERS: an unreachable broker gives exit 6 after --timeout" {
	# Port 1 on loopback: connection refused.
	start=$SECONDS
	run --separate-stderr timeout 30 kq-produce -b 127.0.0.1:1 --timeout 1s -t x <<< "x"
	assert_status 6
	[ $((SECONDS - start)) -le 20 ] || fail "took $((SECONDS - start))s"
	[[ "$stderr" == *kq-produce:* ]]
	run --separate-stderr timeout 30 env KQ_BROKERS=127.0.0.1:1 kq-consume --timeout 1s -t x -e
	assert_status 6
	run --separate-stderr timeout 30 kq-topics -b 127.0.0.1:1 --timeout 1s list
	assert_status 6
}

@test "-v adds debug lines and a summary; -q keeps errors but drops warnings" {
	create_topic verb -p 1
	run --separate-stderr kqp -v -t verb <<< "x"
	assert_status 0
	[[ "$stderr" == *"kq-produce: 1 record (0.0 MB) acknowledged in "* ]] || fail "produce -v: $stderr"
	run --separate-stderr kqc --verbose -t verb -e
	assert_status 0
	[[ "$stderr" == *"kq-consume: debug: reached the end of 'verb' partition 0"* ]] ||
		fail "consume -v: $stderr"
	run --separate-stderr kqt -v list
	assert_status 0
	[[ "$stderr" == *"kq-topics: debug: connected to 127.0.0.1:$KQ_PORT"* ]] ||
		fail "topics -v: $stderr"
	run --separate-stderr timeout 60 kq-groups --verbose list
	assert_status 0
	[[ "$stderr" == *"kq-groups: debug: connected to 127.0.0.1:$KQ_PORT"* ]] ||
		fail "groups -v: $stderr"
	# -q: the warning goes, the result stays.
	run --separate-stderr kqp -t verb -a 0 <<< "y"
	[[ "$stderr" == *"kq-produce: warning: "* ]] || fail "no acks=0 warning: $stderr"
	run --separate-stderr kqp --quiet -t verb -a 0 <<< "y"
	assert_status 0
	[ -z "$stderr" ] || fail "produce -q: $stderr"
	run --separate-stderr kqc -t verb -o 100 -e
	[[ "$stderr" == *"kq-consume: warning: "*outside* ]] || fail "no clamp warning: $stderr"
	run --separate-stderr kqc -q -t verb -o 100 -e
	assert_status 0
	[ -z "$stderr" ] || fail "consume -q: $stderr"
	# An unreachable broker: the retry warning goes, the error stays (exit 6).
	for p in kq-topics kq-groups; do
		run --separate-stderr timeout 30 "$p" --brokers 127.0.0.1:1 --timeout 1s list
		assert_status 6
		[[ "$stderr" == *"$p: warning: cannot reach any broker"* ]] || fail "$p: $stderr"
		run --separate-stderr timeout 30 "$p" -q -b 127.0.0.1:1 --timeout 1s list
		assert_status 6
		[[ "$stderr" == "$p: "* && "$stderr" != *warning* ]] || fail "$p -q: $stderr"
	done
	run --separate-stderr timeout 30 kq-topics --quiet -b 127.0.0.1:1 --timeout 1s list
	assert_status 6
	[[ "$stderr" != *warning* ]] || fail "topics --quiet: $stderr"
}

@test "-b/--brokers beats KQ_BROKERS for every client tool" {
	create_topic bflag -p 1
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-produce --brokers "$KQ_BROKERS" --timeout 5s -t bflag <<< "b"
	assert_status 0
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-consume --brokers "$KQ_BROKERS" --timeout 5s -t bflag -e
	assert_status 0
	[ "$output" = b ]
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-consume --bootstrap-server "$KQ_BROKERS" --timeout 5s -t bflag -e
	assert_status 0
	[ "$output" = b ]
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-topics --brokers "$KQ_BROKERS" --timeout 5s list
	assert_status 0
	[[ "$output" == *bflag* ]] || fail "topics: $output"
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-groups --brokers "$KQ_BROKERS" --timeout 5s list
	assert_status 0
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 timeout 60 \
		kq-groups -b "$KQ_BROKERS" --timeout 5s list
	assert_status 0
}

# on_tty FILE CMD: run CMD (a shell command) with stdin, stdout and stderr
# on a pseudo-terminal (script(1)), what it wrote to the terminal in FILE.
on_tty() {
	script -qfec "$2" /dev/null > "$1" 2>&1 < /dev/null
}

@test "progress: a line redrawn on a terminal, lines every 10s with --progress, none with --no-progress" {
	create_topic prog -p 1
	create_topic prog-p -p 1
	seq 5 | kqp -t prog
	# stderr a terminal, stdout not: the line is drawn in place until stopped.
	on_tty "$BATS_TEST_TMPDIR/tty" "timeout -s INT 5 kq-consume -t prog > /dev/null" || :
	grep -q $'\r\033\\[Kkq-consume: 5 written' "$BATS_TEST_TMPDIR/tty" ||
		fail "no progress line on the terminal: $(od -c "$BATS_TEST_TMPDIR/tty" | head)"
	on_tty "$BATS_TEST_TMPDIR/none" "timeout -s INT 5 kq-consume --no-progress -t prog > /dev/null" || :
	! grep -q written "$BATS_TEST_TMPDIR/none" || fail "consume --no-progress drew progress"
	on_tty "$BATS_TEST_TMPDIR/ptty" "(seq 3; sleep 2; seq 3) | kq-produce -t prog-p" ||
		fail "kq-produce on a terminal failed: $(cat "$BATS_TEST_TMPDIR/ptty")"
	grep -q 'kq-produce: .* acked' "$BATS_TEST_TMPDIR/ptty" ||
		fail "no produce progress on the terminal: $(cat "$BATS_TEST_TMPDIR/ptty")"
	on_tty "$BATS_TEST_TMPDIR/pnone" "(seq 3; sleep 2; seq 3) | kq-produce --no-progress -t prog-p" ||
		fail "kq-produce --no-progress failed: $(cat "$BATS_TEST_TMPDIR/pnone")"
	! grep -q acked "$BATS_TEST_TMPDIR/pnone" || fail "produce --no-progress drew progress"
	# --progress without a terminal: plain lines every 10s, so wait for one.
	kq-consume --progress -t prog > /dev/null 2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	track_pid "$pid"
	for _ in $(seq 300); do
		grep -q 'written' "$BATS_TEST_TMPDIR/err" && break
		sleep 0.1
	done
	kill -TERM "$pid"
	wait_pid_gone "$pid" 15 || fail "kq-consume ignored SIGTERM"
	grep -qx 'kq-consume: 5 written .*' "$BATS_TEST_TMPDIR/err" ||
		fail "no progress line: $(cat "$BATS_TEST_TMPDIR/err")"
	! grep -q $'\r' "$BATS_TEST_TMPDIR/err" || fail "drawn in place although not a terminal"
}

@test "stdout carries data only: a successful produce prints nothing" {
	create_topic quiet -p 1
	run --separate-stderr kqp -t quiet <<< "data"
	assert_status 0
	[ -z "$output" ] || fail "stdout: $output"
	run --separate-stderr kqp -t quiet --print-offsets < <(printf 'a\nb\nc\n')
	assert_status 0
	[ "$output" = "$(printf '0:1\n0:2\n0:3')" ] || fail "print-offsets: $output"
}

@test "-X list and --show-config exit 0" {
	run --separate-stderr kq-produce -X list
	assert_status 0
	[[ "$output" == *acks* ]] || [[ "$stderr" == *acks* ]]
	run --separate-stderr kq-consume --show-config
	assert_status 0
	[[ "$output$stderr" == *"$KQ_BROKERS"* ]] || fail "KQ_BROKERS not shown: $output $stderr"
	run --separate-stderr kq-produce --show-config -a 1 -z gzip
	assert_status 0
	[[ "$output" == *"brokers = $KQ_BROKERS"* ]] || fail "produce --show-config: $output"
	[[ "$output" == *"acks = 1"* && "$output" == *"compression = gzip"* ]] ||
		fail "produce --show-config: $output"
	[ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "SIGTERM stops a following consumer cleanly with status 143" {
	create_topic sig -p 1
	kq-consume -t sig -v > /dev/null 2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	track_pid "$pid"
	wait_for_text "$BATS_TEST_TMPDIR/err" 'to follow'
	kill -TERM "$pid"
	wait_pid_gone "$pid" 15 || fail "kq-consume ignored SIGTERM for 15s"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 143 ] || fail "exit status $st: $(cat "$BATS_TEST_TMPDIR/err")"
}

@test "config file: brokers and settings from a profile; command line and KQ_BROKERS win; bad lines exit 2" {
	create_topic cfgt -p 1
	cfg=$BATS_TEST_TMPDIR/config
	printf '# kq client config\nbrokers = 127.0.0.1:1\ntimeout = 1s\n[profile here]\nbrokers = %s  # the test broker\n' \
		"$KQ_BROKERS" > "$cfg"
	# Top level only: the unreachable broker of the file is used (KQ_BROKERS unset).
	run --separate-stderr env -u KQ_BROKERS KQ_CONFIG="$cfg" timeout 30 kq-produce -t cfgt <<< "x"
	assert_status 6
	# The profile's brokers override the top level.
	run --separate-stderr env -u KQ_BROKERS KQ_CONFIG="$cfg" KQ_PROFILE=here kq-produce -t cfgt <<< "a"
	assert_status 0
	run --separate-stderr env -u KQ_BROKERS kq-produce --config "$cfg" --profile here -t cfgt <<< "b"
	assert_status 0
	run --separate-stderr env -u KQ_BROKERS kq-topics -F "$cfg" --profile here list
	assert_status 0
	[[ "$output" == *cfgt* ]]
	# KQ_BROKERS beats the file; -b beats both.
	run --separate-stderr env KQ_CONFIG="$cfg" kq-produce -t cfgt <<< "c"
	assert_status 0
	run --separate-stderr env KQ_BROKERS=127.0.0.1:1 KQ_CONFIG="$cfg" kq-produce -b "$KQ_BROKERS" -t cfgt <<< "d"
	assert_status 0
	run --separate-stderr env -u KQ_BROKERS KQ_CONFIG="$cfg" KQ_PROFILE=here kq-consume -t cfgt -e
	assert_status 0
	[ "$output" = "$(printf 'a\nb\nc\nd')" ] || fail "got: $output"
	run --separate-stderr env -u KQ_BROKERS kq-consume --config "$cfg" --profile here -t cfgt -e
	assert_status 0
	[ "$output" = "$(printf 'a\nb\nc\nd')" ] || fail "consume --config: $output"
	run --separate-stderr env -u KQ_BROKERS timeout 60 kq-groups --config "$cfg" --profile here list
	assert_status 0
	run --separate-stderr env -u KQ_BROKERS timeout 60 kq-groups --config "$cfg" list
	assert_status 6
	# Bad lines, a missing profile and a missing file are usage errors.
	printf 'brokers\n' > "$BATS_TEST_TMPDIR/bad"
	run --separate-stderr kq-produce --config "$BATS_TEST_TMPDIR/bad" -t cfgt < /dev/null
	assert_status 2
	[[ "$stderr" == *"bad:1: 'brokers' needs a value"* ]] || fail "stderr: $stderr"
	run --separate-stderr kq-produce --config "$cfg" --profile nope -t cfgt < /dev/null
	assert_status 2
	run --separate-stderr kq-produce --config "$BATS_TEST_TMPDIR/none" -t cfgt < /dev/null
	assert_status 2
}

@test "kq-broker: --config, --id names the node, -v logs requests, -z without a ZooKeeper fails (restarts: last)" {
	local port
	port=$(free_port)
	run --separate-stderr kq-broker -z "127.0.0.1:$port" -X zookeeper.session.timeout.ms=500 \
		--data-dir "$BATS_TEST_TMPDIR/zk"
	assert_status 1
	[[ "$stderr" == *"cannot reach ZooKeeper at 127.0.0.1:$port within 500 ms"* ]] ||
		fail "-z: $stderr"
	run --separate-stderr kq-broker --zookeeper /chroot-only --data-dir "$BATS_TEST_TMPDIR/zk"
	assert_status 2
	[[ "$stderr" == *"bad --zookeeper '/chroot-only'"* ]] || fail "--zookeeper: $stderr"
	# --config reads server.properties keys; a bad value is exit 2.
	printf 'num.partitions=many\n' > "$BATS_TEST_TMPDIR/bad.properties"
	run --separate-stderr kq-broker --config "$BATS_TEST_TMPDIR/bad.properties" \
		--data-dir "$BATS_TEST_TMPDIR/bad"
	assert_status 2
	[[ "$stderr" == *num.partitions* ]] || fail "bad --config: $stderr"
	printf '# kq-broker test\nnum.partitions=3\n' > "$BATS_TEST_TMPDIR/server.properties"
	stop_broker
	KQ_DATA_DIR=$BATS_TEST_TMPDIR/node7 start_broker --id 7 -v \
		--config "$BATS_TEST_TMPDIR/server.properties"
	grep -q 'ready on 127.0.0.1:[0-9]* (node 7,' "$(broker_log)" || fail "ready line"
	run --separate-stderr kqt create seven
	assert_status 0
	run --separate-stderr kqt describe seven --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "num.partitions=3 from --config: $output"
	[[ "$output" =~ ^seven\ +0\ +7\ +7\ +7\  ]] || fail "leader is not node 7: $output"
	grep -q "kq-broker: debug: .*CreateTopics v[0-9]* corr [0-9]* client 'kq-topics'" "$(broker_log)" ||
		fail "no request logged with -v: $(tail -5 "$(broker_log)")"
}
