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
