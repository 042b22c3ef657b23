#!/usr/bin/env bats
# Old request versions and message formats (issue 10): Produce v0-2 with
# MessageSet v0/v1, Fetch v0-3 down-converted, ListOffsets v0, OffsetCommit
# v0-1, OffsetFetch v0, as Kafka 3.9 serves them.  Raw requests come from
# tests/interop/legacy_raw.py, which checks every fetched message's CRC-32;
# the real clients are kafka-python pinned to old api_versions, kcat in
# librdkafka's legacy mode and Sarama at its default version.

bats_require_minimum_version 1.5.0
load helpers

legacy() {
	timeout 60 "$KQ_PY" "$KQ_INTEROP/legacy_raw.py" "$1" "$KQ_PORT" "${@:2}"
}

# The produces every read test below expects, in offset order.
expect_lines() {
	local p i
	for p in a0 b2 c2; do
		for i in 0 1 2; do
			printf '%s %s\n' "$p-k$i" "$p-v$i"
		done
	done
	for i in 0 1; do
		printf '%s %s\n' "d1-k$i" "d1-v$i"
	done
}

produce_legacy() {
	create_topic "$1" -p 1
	run legacy produce "$1" 0 none 3 a0
	[ "$output" = "error=0 base=0" ] || fail "v0 plain: $output"
	run legacy produce "$1" 2 gzip 3 b2
	[ "$output" = "error=0 base=3" ] || fail "v2 gzip: $output"
	run legacy produce "$1" 2 snappy 3 c2
	[ "$output" = "error=0 base=6" ] || fail "v2 snappy: $output"
	run legacy produce "$1" 1 snappy 2 d1
	[ "$output" = "error=0 base=9" ] || fail "v1 snappy: $output"
}

@test "ApiVersions advertises every non-flexible version of Kafka 3.9 for the APIs kq serves" {
	run legacy versions
	assert_status 0
	for want in "0 0 8" "1 0 11" "2 0 5" "8 0 7" "9 0 5"; do
		grep -qx "$want" <<< "$output" || fail "no '$want' in: $output"
	done
}

@test "Produce v0-v2 message sets, plain and gzip/snappy wrapped, read back by kq-consume and kcat" {
	produce_legacy lg-prod
	expect_lines > "$BATS_TEST_TMPDIR/want"
	kqc -t lg-prod -e -f '%k %s\n' > "$BATS_TEST_TMPDIR/kq"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/kq"
	if have kcat; then
		timeout 30 kcat -b "$KQ_BROKERS" -C -t lg-prod -e -q -f '%k %s\n' \
			> "$BATS_TEST_TMPDIR/kcat"
		assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/kcat"
	fi
	# Magic 1 keeps the producer's timestamps; magic 0 gets the append time.
	kqc -t lg-prod -e -f '%o %T\n' > "$BATS_TEST_TMPDIR/ts"
	now=$(now_ms)
	awk -v now="$now" '$2 < now - 600000 || $2 > now + 1000 { print "bad timestamp: " $0; bad = 1 }
		END { exit bad }' "$BATS_TEST_TMPDIR/ts"
}

@test "Fetch v0 and v3 return the records of old and current producers as valid message sets" {
	produce_legacy lg-fetch
	# Current producers' batches too: plain, and zstd, which old fetchers
	# get decompressed (Kafka would answer UNSUPPORTED_COMPRESSION_TYPE).
	printf 'e-k0 e-v0\ne-k1 e-v1\n' | kqp -t lg-fetch -K ' '
	printf 'z-k0 z-v0\nz-k1 z-v1\n' | kqp -t lg-fetch -K ' ' -z zstd
	{ expect_lines; printf 'e-k0 e-v0\ne-k1 e-v1\nz-k0 z-v0\nz-k1 z-v1\n'; } |
		awk '{ print NR - 1, $0 }' > "$BATS_TEST_TMPDIR/want"
	for v in 0 1 2 3; do
		run --separate-stderr legacy fetch lg-fetch "$v" 0
		assert_status 0
		[ "${lines[0]}" = "error=0 hw=15" ] || fail "v$v: $output"
		printf '%s\n' "${lines[@]:1}" > "$BATS_TEST_TMPDIR/v$v"
		assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/v$v"
	done
	# From inside a stored batch: only the offsets asked for.
	run --separate-stderr legacy fetch lg-fetch 3 4
	[ "${lines[1]}" = "4 b2-k1 b2-v1" ] || fail "$output"
	[ "${#lines[@]}" -eq 12 ] || fail "$output"
}

@test "Fetch v0 and v3 at the end wait for a produce, and answer with it" {
	produce_legacy lg-wait
	run --separate-stderr legacy fetch-wait lg-wait 0 11 w0
	assert_status 0
	[ "$output" = "$(printf 'error=0 hw=12\n11 w0-k0 w0-v0')" ] || fail "v0: $output"
	run --separate-stderr legacy fetch-wait lg-wait 3 12 w3
	assert_status 0
	[ "$output" = "$(printf 'error=0 hw=13\n12 w3-k0 w3-v0')" ] || fail "v3: $output"
	# Nothing arrives: answered empty once max_wait_ms (100) is over.
	run --separate-stderr legacy fetch lg-wait 1 13
	[ "$output" = "error=0 hw=13" ] || fail "empty: $output"
	run --separate-stderr legacy fetch lg-wait 1 14
	[ "$output" = "error=1 hw=-1" ] || fail "past the end: $output"
}

@test "Fetch v3 honours max_bytes after down-conversion, and always returns the first message" {
	produce_legacy lg-max
	# A magic-1 message of these records is 12 + 22 + 10 = 44 bytes: two fit in 100.
	run --separate-stderr legacy fetch lg-max 3 0 100
	assert_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "100 bytes: $output"
	[ "${lines[2]}" = "1 a0-k1 a0-v1" ] || fail "$output"
	run --separate-stderr legacy fetch lg-max 3 0 1
	[ "${#lines[@]}" -eq 2 ] || fail "1 byte: $output"
	[ "${lines[1]}" = "0 a0-k0 a0-v0" ] || fail "$output"
}

@test "ListOffsets v0 answers with Kafka's offset lists" {
	create_topic lg-lo -p 1 -c segment.bytes=200
	for i in 1 2 3 4; do
		run legacy produce lg-lo 2 none 2 "s$i"
		[ "$output" = "error=0 base=$(((i - 1) * 2))" ] || fail "$output"
	done
	bases=$(ls "$KQ_DATA/lg-lo-0" | sed -n 's/^0*\([0-9][0-9]*\)\.log$/\1/p' | sort -rn | paste -sd,)
	[ "$(echo "$bases" | tr ',' '\n' | wc -l)" -ge 2 ] || fail "one segment only: $bases"
	run legacy listoffsets lg-lo -1 100
	[ "$output" = "error=0 offsets=8,$bases" ] || fail "latest: $output (segments $bases)"
	run legacy listoffsets lg-lo -1 1
	[ "$output" = "error=0 offsets=8" ] || fail "latest, 1: $output"
	run legacy listoffsets lg-lo -2 100
	[ "$output" = "error=0 offsets=0" ] || fail "earliest: $output"
	# Before every segment was written: nothing.
	run legacy listoffsets lg-lo 1000 100
	[ "$output" = "error=0 offsets=" ] || fail "at 1000: $output"
	run legacy listoffsets lg-none -1 1
	[ "$output" = "error=3 offsets=" ] || fail "unknown topic: $output"
	# A timestamp picks the segments last modified at or before it: day i+1 of
	# 2020 for segment i, so noon of that day answers segments i..0.
	i=0
	want=
	for b in $(echo "$bases" | tr ',' '\n' | sort -n); do
		f=$(printf '%s/lg-lo-0/%020d.log' "$KQ_DATA" "$b")
		touch -d "2020-01-0$((i + 1)) 00:00 UTC" "$f"
		want=$b${want:+,$want}
		run legacy listoffsets lg-lo "$(date -d "2020-01-0$((i + 1)) 12:00 UTC" +%s%3N)" 100
		[ "$output" = "error=0 offsets=$want" ] || fail "segment $i: $output, want $want"
		i=$((i + 1))
	done
	run legacy listoffsets lg-lo "$(date -d "2020-01-0$i 12:00 UTC" +%s%3N)" 1
	[ "$output" = "error=0 offsets=${want%%,*}" ] || fail "max 1: $output"
}

@test "OffsetCommit v0/v1 and OffsetFetch v0; a v1 commit resumes in kq-consume -g" {
	produce_legacy lg-oc
	run legacy commit lg-g0 lg-oc 0 5
	[ "$output" = "error=0" ] || fail "v0: $output"
	run legacy offsetfetch lg-g0 lg-oc
	[ "$output" = "error=0 offset=5" ] || fail "fetch v0: $output"
	run legacy commit lg-g1 lg-oc 1 7
	[ "$output" = "error=0" ] || fail "v1: $output"
	run legacy offsetfetch lg-g1 lg-oc
	[ "$output" = "error=0 offset=7" ] || fail "fetch v0 after v1: $output"
	# v1 checks the generation: a member of nothing is refused, like Kafka.
	run legacy commit lg-g1 lg-oc 1 3 4 nobody
	[ "$output" = "error=25" ] || fail "v1 unknown member: $output"
	run --separate-stderr kqc -g lg-g1 -t lg-oc -e -f '%o %k\n'
	assert_status 0
	[ "$output" = "$(printf '7 c2-k1\n8 c2-k2\n9 d1-k0\n10 d1-k1')" ] || fail "$output"
	run legacy offsetfetch lg-g1 lg-oc
	[ "$output" = "error=0 offset=11" ] || fail "after kq-consume: $output"
}

@test "OffsetCommit v0 skips the generation check (Kafka 3.9 keeps v0 apart), v1 does not" {
	produce_legacy lg-live
	# A live member: the group is Stable with one member of generation >= 1.
	kq-consume -g lg-live -t lg-live -f '%o %k\n' -X heartbeat.interval.ms=300 --commit-interval 200ms \
		< /dev/null > "$BATS_TEST_TMPDIR/m.out" 2> "$BATS_TEST_TMPDIR/m.err" 3>&- &
	pid=$!
	track_pid "$pid"
	wait_for_text "$BATS_TEST_TMPDIR/m.out" "10 d1-k1" 30
	# Its own commit first, so that it cannot land after ours.
	for ((i = 0; i < 300; i++)); do
		run legacy offsetfetch lg-live lg-live
		[ "$output" = "error=0 offset=11" ] && break
		sleep 0.1
	done
	[ "$output" = "error=0 offset=11" ] || fail "the member did not commit within 30s: $output"
	run legacy commit lg-live lg-live 1 3 -1 ""
	[ "$output" = "error=25" ] || fail "v1 without a member: $output"
	run legacy commit lg-live lg-live 0 4
	[ "$output" = "error=0" ] || fail "v0: $output"
	run legacy offsetfetch lg-live lg-live
	[ "$output" = "error=0 offset=4" ] || fail "$output"
	kill -TERM "$pid"
	wait_pid_gone "$pid" 30 || fail "kq-consume (pid $pid) did not exit after SIGTERM"
}

@test "kafka-python pinned to api_version (0, 10, 1) and (0, 9) produces, consumes and commits" {
	have_py_module kafka || skip "python3-kafka is not installed"
	create_topic lg-kp101 -p 1
	create_topic lg-kp9 -p 1
	run --separate-stderr timeout 120 "$KQ_PY" "$KQ_INTEROP/kp_legacy.py" "$KQ_PORT" lg-kp101 0.10.1 50 gzip
	[ "$output" = "ok 50 committed=50" ] || fail "0.10.1: $output $stderr"
	run --separate-stderr timeout 120 "$KQ_PY" "$KQ_INTEROP/kp_legacy.py" "$KQ_PORT" lg-kp9 0.9 50 none
	[ "$output" = "ok 50 committed=50" ] || fail "0.9: $output $stderr"
	# Their records read by a current client.
	[ "$(kqc -t lg-kp9 -e -f '%k\n' | paste -sd' ')" = "$(seq -f 'k%g' 0 49 | paste -sd' ')" ] ||
		fail "kq-consume reads other keys"
}

@test "Sarama with its default version (0.8.2): Produce v0, ListOffsets v0, Fetch v0, OffsetCommit v1" {
	have go || skip "golang-go is not installed"
	[ -d /usr/share/gocode/src/github.com/Shopify/sarama ] ||
		skip "golang-github-shopify-sarama-dev is not installed"
	GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$BATS_FILE_TMPDIR/gocache" \
		timeout 300 go build -o "$BATS_FILE_TMPDIR/sarama_legacy" \
		"$KQ_INTEROP/sarama_legacy.go" 2> "$BATS_TEST_TMPDIR/go.err" ||
		fail "go build: $(tail -n 5 "$BATS_TEST_TMPDIR/go.err")"
	for z in none gzip snappy; do
		create_topic "lg-sarama-$z" -p 1
		run --separate-stderr timeout 60 "$BATS_FILE_TMPDIR/sarama_legacy" "$KQ_BROKERS" \
			"lg-sarama-$z" 100 "$z" "lg-sarama-$z"
		[ "$output" = "ok 100 end=100 committed=100" ] || fail "$z: $output $stderr"
		# What Sarama wrote and committed, as a current client sees it.
		[ "$(kqc -t "lg-sarama-$z" -e -f '%k=%s\n' | tail -n 1)" = "k99=sarama-99" ] ||
			fail "$z: kq-consume reads something else"
		run --separate-stderr timeout 30 kq-groups describe "lg-sarama-$z"
		[[ "$output" =~ lg-sarama-$z\ +0\ +100\ +100\ +0 ]] || fail "$z: $output"
	done
}

@test "bad legacy message sets are refused with Kafka's error codes, the broker serves on" {
	produce_legacy lg-bad
	run legacy bad lg-bad crc
	[ "$output" = "error=2" ] || fail "bad CRC: $output"
	run legacy bad lg-bad nested
	[ "$output" = "error=2" ] || fail "nested wrapper: $output"
	run legacy bad lg-bad bomb
	[ "$output" = "error=10" ] || fail "2 MB decompressed: $output"
	run --separate-stderr legacy fetch lg-bad 3 0
	[ "${lines[0]}" = "error=0 hw=11" ] || fail "$output"
	[ "${#lines[@]}" -eq 12 ] || fail "$output"
}

@test "kcat in legacy mode (broker.version.fallback 0.8.2, 0.9.0): Produce and Fetch v0/v1 with gzip, snappy and lz4" {
	have kcat || skip "kcat is not installed"
	seq 1 300 | awk '{ print "k" $1 ":value-" $1 }' > "$BATS_TEST_TMPDIR/in"
	# librdkafka without ApiVersions: Produce v0 and Fetch v0 for 0.8.2 (magic 0,
	# lz4 with the old frame header checksum, KAFKA-3160), v1 for 0.9.0.
	for v in 0.8.2 0.9.0; do
		for z in gzip snappy lz4; do
			t=lg-kc-$v-$z
			legacy_kcat=(timeout 30 kcat -b "$KQ_BROKERS" -X api.version.request=false
				     -X "broker.version.fallback=$v")
			create_topic "$t" -p 1
			"${legacy_kcat[@]}" -P -t "$t" -p 0 -K: -z "$z" -X acks=all \
				< "$BATS_TEST_TMPDIR/in" || fail "$v $z: kcat -P failed"
			kqc -t "$t" -e -f '%k:%s\n' > "$BATS_TEST_TMPDIR/kq"
			assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/kq"
			"${legacy_kcat[@]}" -C -t "$t" -e -q -f '%k:%s\n' > "$BATS_TEST_TMPDIR/kcat"
			assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/kcat"
		done
	done
}
