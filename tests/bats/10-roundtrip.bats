#!/usr/bin/env bats
# kq-produce | kq-consume round trips in lines mode: byte-for-byte copies,
# ordering per partition and per key, partition selection, offset specs and
# counts.  One broker for the whole file (helpers.bash setup_file).

bats_require_minimum_version 1.5.0
load helpers

GEN="$BATS_TEST_DIRNAME/../fixtures/e2e/gen-lines"

@test "100k lines into a 1-partition topic come back byte for byte" {
	"$GEN" 100000 plain > "$BATS_TEST_TMPDIR/in"
	create_topic logs1 -p 1
	run --separate-stderr kqp -t logs1 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t logs1 -e > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
}

@test "100k lines from stdin into 3 partitions: same records, none lost or doubled" {
	"$GEN" 100000 plain > "$BATS_TEST_TMPDIR/in"
	create_topic logs -p 3
	kqp -t logs < "$BATS_TEST_TMPDIR/in"
	kqc -t logs -e > "$BATS_TEST_TMPDIR/out"
	sort "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/in.sorted"
	sort "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/out.sorted"
	assert_same_file "$BATS_TEST_TMPDIR/in.sorted" "$BATS_TEST_TMPDIR/out.sorted"
	# Per partition, offsets are dense from 0 and records keep input order
	# (every generated line carries its increasing line number).
	kqc -t logs -e -f '%p %o %s\n' > "$BATS_TEST_TMPDIR/pos"
	awk '$3 == "line" {
		p = $1; o = $2; n = $4 + 0
		if (p in last && n <= last[p]) { print "partition " p " offset " o ": line " n " after " last[p]; bad = 1 }
		last[p] = n
	}
	{ if (!(($1) in next_o)) next_o[$1] = 0
	  if ($2 != next_o[$1]) { print "partition " $1 ": offset " $2 ", expected " next_o[$1]; bad = 1 }
	  next_o[$1] = $2 + 1 }
	END { exit bad }' "$BATS_TEST_TMPDIR/pos"
}

@test "keyed 100k lines (-K '\\t') into 3 partitions keep per-key order" {
	"$GEN" 100000 keyed > "$BATS_TEST_TMPDIR/in"
	create_topic keyed -p 3
	run --separate-stderr kqp -t keyed -K '\t' "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t keyed -e -K '\t' > "$BATS_TEST_TMPDIR/out"
	# A stable sort on the key alone keeps each key's records in the order
	# they were read; equal files mean same records and same per-key order.
	sort -s -t "$(printf '\t')" -k1,1 "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/in.bykey"
	sort -s -t "$(printf '\t')" -k1,1 "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/out.bykey"
	assert_same_file "$BATS_TEST_TMPDIR/in.bykey" "$BATS_TEST_TMPDIR/out.bykey"
	# Each key lives in exactly one partition.
	kqc -t keyed -e -f '%k %p\n' | sort -u > "$BATS_TEST_TMPDIR/kp"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/kp")" -eq 37 ] ||
		fail "keys spread over partitions: $(head -n 50 "$BATS_TEST_TMPDIR/kp")"
	# 37 keys over 3 partitions: every partition has some.
	[ "$(cut -d' ' -f2 "$BATS_TEST_TMPDIR/kp" | sort -u | wc -l)" -eq 3 ]
}

@test "-p 0 on a 3-partition topic writes and reads only partition 0" {
	"$GEN" 5000 plain > "$BATS_TEST_TMPDIR/in"
	create_topic p0 -p 3
	run --separate-stderr kqp -t p0 -p 0 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t p0 -p 0 -e > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	run --separate-stderr kqc -t p0 -p 1,2 -e
	assert_status 0
	[ -z "$output" ] || fail "partitions 1,2 are not empty: ${output:0:200}"
	# Keyed records with -p also stay in partition 0.
	printf 'a\tx\nb\ty\nc\tz\n' | kqp -t p0 -p 0 -K '\t'
	run --separate-stderr kqc -t p0 -e -f '%p\n'
	assert_status 0
	[ "$(printf '%s\n' "$output" | sort -u)" = 0 ]
	[ "${#lines[@]}" -eq 5003 ]
}

@test "-o -10 gives the last 10 records of each partition" {
	"$GEN" 3000 keyed > "$BATS_TEST_TMPDIR/in"
	create_topic tail10 -p 3
	kqp -t tail10 -K '\t' "$BATS_TEST_TMPDIR/in"
	kqc -t tail10 -e -f '%p %o %s\n' > "$BATS_TEST_TMPDIR/all"
	for p in 0 1 2; do
		awk -v p="$p" '$1 == p' "$BATS_TEST_TMPDIR/all" | tail -n 10
	done | sort > "$BATS_TEST_TMPDIR/want"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/want")" -eq 30 ]
	run --separate-stderr kqc -t tail10 -o -10 -e -f '%p %o %s\n'
	assert_status 0
	printf '%s\n' "$output" | sort > "$BATS_TEST_TMPDIR/got"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "-o @TIME starts at the first record at or after TIME" {
	"$GEN" 4000 plain > "$BATS_TEST_TMPDIR/in"
	head -n 2000 "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/first"
	tail -n 2000 "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/second"
	create_topic timed -p 3
	kqp -t timed "$BATS_TEST_TMPDIR/first"
	sleep 0.05
	t=$(now_ms)
	sleep 1.1
	kqp -t timed "$BATS_TEST_TMPDIR/second"
	kqc -t timed -o "@$t" -e > "$BATS_TEST_TMPDIR/out"
	sort "$BATS_TEST_TMPDIR/second" > "$BATS_TEST_TMPDIR/want"
	sort "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/got"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# Seconds (10 digits) name the same instant, rounded up to a whole second
	# that still lies inside the 1.1 s gap.
	s=$(((t + 999) / 1000))
	kqc -t timed -o "@$s" -e | sort > "$BATS_TEST_TMPDIR/got.s"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got.s"
}

@test "-c N stops after N records without -e" {
	"$GEN" 100 plain > "$BATS_TEST_TMPDIR/in"
	create_topic counted -p 1
	kqp -t counted "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqc -t counted -c 7
	assert_status 0
	head -n 7 "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/want"
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/got"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# -c on the producer sends only the first N input records.
	create_topic counted2 -p 1
	run --separate-stderr kqp -t counted2 -c 3 "$BATS_TEST_TMPDIR/in"
	assert_status 0
	run --separate-stderr kqc -t counted2 -e
	assert_status 0
	[ "$output" = "$(head -n 3 "$BATS_TEST_TMPDIR/in")" ]
}

@test "empty records survive and a last line without newline is sent" {
	create_topic empties -p 1
	printf 'a\n\n\nb\n\nlast' | kqp -t empties
	kqc -t empties -e > "$BATS_TEST_TMPDIR/out"
	printf 'a\n\n\nb\n\nlast\n' > "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
	run --separate-stderr kqc -t empties -e -f '%S\n'
	assert_status 0
	[ "$(echo "$output" | tr '\n' ' ')" = "1 0 0 1 0 4 " ]
}

@test "multi-byte delimiters and -0 round trip" {
	create_topic delims -p 1
	printf 'one\r\ntwo\r\nthree\r\n' | kqp -t delims -D '\r\n'
	printf 'with\nnewline\0second\0' | kqp -t delims -0
	kqc -t delims -e -D '|' > "$BATS_TEST_TMPDIR/out"
	printf 'one|two|three|with\nnewline|second|' > "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
	# NUL delimiters on the way out: a NUL after each record.
	kqc -t delims -e -0 > "$BATS_TEST_TMPDIR/out0"
	printf 'one\0two\0three\0with\nnewline\0second\0' > "$BATS_TEST_TMPDIR/want0"
	assert_same_file "$BATS_TEST_TMPDIR/want0" "$BATS_TEST_TMPDIR/out0"
	kqc -t delims -e --null-data -c 2 > "$BATS_TEST_TMPDIR/out0"
	printf 'one\0two\0' > "$BATS_TEST_TMPDIR/want0"
	assert_same_file "$BATS_TEST_TMPDIR/want0" "$BATS_TEST_TMPDIR/out0"
}

@test "a consumer started before producing sees new records (follow mode)" {
	create_topic live -p 1
	kqc -t live -c 3 -v > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" &
	cpid=$!
	track_pid "$cpid"
	# Produce only once it follows the end of the (empty) log.
	wait_for_text "$BATS_TEST_TMPDIR/err" 'reading from 0 to follow'
	printf 'x\ny\nz\n' | kqp -t live
	wait_pid_gone "$cpid" 20 || fail "consumer did not stop after 3 records"
	st=0
	wait "$cpid" || st=$?
	[ "$st" -eq 0 ] || fail "consumer exited $st: $(cat "$BATS_TEST_TMPDIR/err")"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "$(printf 'x\ny\nz')" ]
}
