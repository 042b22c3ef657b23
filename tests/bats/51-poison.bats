#!/usr/bin/env bats
# Poison batches (issue 9.1): a batch whose records do not parse, whose
# record count disagrees with them, whose codec data is corrupt or which
# inflates past the 64 MiB cap is refused with Kafka's error and nothing of
# it is stored; the good batch for another partition in the same request is
# appended; kq-consume and kcat read both partitions to their ends.

bats_require_minimum_version 1.5.0
load helpers

POISON="$KQ_INTEROP/poison.py"

# Records a consumer reads from TOPIC partition P to its end, and its status.
count_kqc() {
	kqc -t "$1" -p "$2" -e > "$BATS_TEST_TMPDIR/out" || return
	wc -l < "$BATS_TEST_TMPDIR/out"
}

count_kcat() {
	timeout 60 kcat -b "$KQ_BROKERS" -C -t "$1" -p "$2" -o beginning -e -q \
		> "$BATS_TEST_TMPDIR/out" || return
	wc -l < "$BATS_TEST_TMPDIR/out"
}

@test "each poison batch is refused with Kafka's error; other partitions' batches are appended" {
	create_topic poison -p 2
	run --separate-stderr timeout 120 "$KQ_PY" "$POISON" "$KQ_BROKERS" poison
	echo "$stderr"
	[[ "${lines[-1]}" =~ ^end\ ([0-9]+)\ ([0-9]+)$ ]] || fail "no end line"
	end0=${BASH_REMATCH[1]} end1=${BASH_REMATCH[2]}
	# The readers' tests read to these ends, even when this test fails.
	echo "$end0 $end1" > "$BATS_FILE_TMPDIR/ends"
	assert_status 0
	# 2 good records, then 3 + 3 + 3 + 3 + 1 from the compressed controls.
	[ "$end0" -eq 15 ] || fail "partition 0 ends at $end0"
}

# reads_to_end COUNTER: both partitions read to the end offsets the
# produce test saw.
reads_to_end() {
	local end p want
	[ -s "$BATS_FILE_TMPDIR/ends" ] || skip "the produce test did not run"
	read -r -a end < "$BATS_FILE_TMPDIR/ends"
	for p in 0 1; do
		want=${end[p]}
		run "$1" poison "$p"
		assert_status 0
		[ "$output" -eq "$want" ] || fail "partition $p: $output records, want $want"
	done
}

@test "kq-consume reads both partitions to their ends after the poison" {
	reads_to_end count_kqc
}

@test "kcat reads both partitions to their ends after the poison" {
	have kcat || skip "kcat not installed"
	reads_to_end count_kcat
}

@test "a compacted topic still refuses a keyless record inside a compressed batch" {
	create_topic poison-compact -p 1 -c cleanup.policy=compact
	printf 'k1\tv1\n' | kqp -t poison-compact -K '\t' -z zstd
	run --separate-stderr kqp -t poison-compact -z zstd <<< "no key"
	[ "$status" -ne 0 ] || fail "a keyless record was accepted"
	run count_kqc poison-compact 0
	assert_status 0
	[ "$output" -eq 1 ] || fail "$output records, want 1"
}
