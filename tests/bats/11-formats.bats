#!/usr/bin/env bats
# Formats: JSON lines (lossless copy), binary framing, templates, null
# handling (-Z, --null), headers (-H) and compression codecs.

bats_require_minimum_version 1.5.0
load helpers

GENBIN="$BATS_TEST_DIRNAME/../fixtures/e2e/gen-binary.py"
CHECKJSON="$BATS_TEST_DIRNAME/../fixtures/e2e/check-json.py"
GEN="$BATS_TEST_DIRNAME/../fixtures/e2e/gen-lines"

# json_strip FILE FIELD...: the JSON lines of FILE without the given fields,
# keys sorted, so two dumps can be compared with cmp.
json_strip() {
	local f=$1
	shift
	"$KQ_PY" -c '
import json, sys
drop = sys.argv[2:]
for line in open(sys.argv[1], "rb"):
    o = json.loads(line)
    for d in drop:
        o.pop(d, None)
    print(json.dumps(o, sort_keys=True))
' "$f" "$@"
}

@test "binary format round trips arbitrary bytes, NUL, invalid UTF-8 and nulls" {
	"$GENBIN" 300 > "$BATS_TEST_TMPDIR/in.bin"
	create_topic bin -p 1
	run --separate-stderr kqp -t bin -f binary "$BATS_TEST_TMPDIR/in.bin"
	assert_status 0
	kqc -t bin -e -f binary > "$BATS_TEST_TMPDIR/out.bin"
	assert_same_file "$BATS_TEST_TMPDIR/in.bin" "$BATS_TEST_TMPDIR/out.bin"
}

@test "json output encodes binary keys/values as base64 and nulls as null" {
	"$GENBIN" 300 > "$BATS_TEST_TMPDIR/in.bin"
	create_topic binj -p 1
	kqp -t binj -f binary < "$BATS_TEST_TMPDIR/in.bin"
	kqc -t binj -e -f json > "$BATS_TEST_TMPDIR/out.json"
	run "$KQ_PY" "$CHECKJSON" "$BATS_TEST_TMPDIR/in.bin" "$BATS_TEST_TMPDIR/out.json"
	assert_status 0
	# -J is the kcat spelling of -f json.
	kqc -t binj -e -J > "$BATS_TEST_TMPDIR/out.J"
	assert_same_file "$BATS_TEST_TMPDIR/out.json" "$BATS_TEST_TMPDIR/out.J"
}

@test "json copy (kq-consume -f json | kq-produce -f json) keeps keys, nulls, headers, binary" {
	create_topic src -p 1
	create_topic copy -p 1
	printf 'k1\tv1\n\tnull key\nk3\t\n\t\nk5\tv\twith tab\n' |
		kqp -t src -K '\t' -Z -H trace=abc -H flag -H dup=1 -H dup=2
	"$GENBIN" 100 | kqp -t src -f binary
	kqc -t src -e -f json > "$BATS_TEST_TMPDIR/src.json"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/src.json")" -eq 105 ]
	# The documented shape of the first records.
	run "$KQ_PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1], "rb")]
hdr = [["trace", "abc"], ["flag", None], ["dup", "1"], ["dup", "2"]]
want = [("k1", "v1"), (None, "null key"), ("k3", None), (None, None), ("k5", "v\twith tab")]
for i, (k, v) in enumerate(want):
    o = r[i]
    assert o["topic"] == "src" and o["partition"] == 0 and o["offset"] == i, o
    assert o["key"] == k and o["value"] == v, (i, o)
    assert o["headers"] == hdr, (i, o["headers"])
    assert isinstance(o["timestamp"], int) and o["timestamp"] > 1600000000000, o
print("ok")
' "$BATS_TEST_TMPDIR/src.json"
	assert_status 0
	run --separate-stderr bash -c 'set -o pipefail
		kq-consume -t src -e -f json | kq-produce -t copy -f json'
	assert_status 0
	kqc -t copy -e -f json > "$BATS_TEST_TMPDIR/copy.json"
	json_strip "$BATS_TEST_TMPDIR/src.json" topic > "$BATS_TEST_TMPDIR/a"
	json_strip "$BATS_TEST_TMPDIR/copy.json" topic > "$BATS_TEST_TMPDIR/b"
	assert_same_file "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	# And the bytes agree through the binary framing too.
	kqc -t src -e -f binary > "$BATS_TEST_TMPDIR/a.bin"
	kqc -t copy -e -f binary > "$BATS_TEST_TMPDIR/b.bin"
	assert_same_file "$BATS_TEST_TMPDIR/a.bin" "$BATS_TEST_TMPDIR/b.bin"
}

# fill_3parts TOPIC: in each of its 3 partitions keyed and unkeyed records,
# headers, null keys and values, binary keys and values.
fill_3parts() {
	local p
	for p in 0 1 2; do
		printf 'k1\tv1 %s\n\tnull key\nk3\t\n\t\nunkeyed %s\n' "$p" "$p" |
			kqp -t "$1" -p "$p" -K '\t' -Z -H trace="p$p" -H flag -H dup=1 -H dup=2
		seq 1 $((200 + 50 * p)) | kqp -t "$1" -p "$p"
		"$GENBIN" 40 | kqp -t "$1" -p "$p" -f binary -H bin=1
	done
}

# json_sorted FILE FIELD...: json_strip, then the lines sorted, so that the
# same records compare equal whatever order the partitions were read in.
json_sorted() {
	json_strip "$@" | LC_ALL=C sort
}

@test "the tour's json copy with --create keeps every record in its partition" {
	create_topic logs -p 3
	fill_3parts logs
	kqc -t logs -e -f json > "$BATS_TEST_TMPDIR/src.json"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/src.json")" -eq 885 ]
	run --separate-stderr bash -c 'set -o pipefail
		kq-consume -t logs -e -f json | kq-produce -t logs-copy -f json --create'
	assert_status 0
	[[ "$stderr" == *"created topic 'logs-copy'"* ]] || fail "stderr: $stderr"
	[[ "$stderr" != *warning* ]] || fail "stderr: $stderr"
	run --separate-stderr kqt describe logs-copy
	assert_status 0
	[ "${#lines[@]}" -eq 4 ] || fail "logs-copy: $output"
	kqc -t logs-copy -e -f json > "$BATS_TEST_TMPDIR/copy.json"
	# Same partition, offset, key, value, headers and timestamp for every record.
	json_sorted "$BATS_TEST_TMPDIR/src.json" topic > "$BATS_TEST_TMPDIR/a"
	json_sorted "$BATS_TEST_TMPDIR/copy.json" topic > "$BATS_TEST_TMPDIR/b"
	assert_same_file "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	for p in 0 1 2; do
		kqc -t logs -p "$p" -e -f binary > "$BATS_TEST_TMPDIR/a.bin"
		kqc -t logs-copy -p "$p" -e -f binary > "$BATS_TEST_TMPDIR/b.bin"
		assert_same_file "$BATS_TEST_TMPDIR/a.bin" "$BATS_TEST_TMPDIR/b.bin"
	done
}

@test "json copy into a smaller existing topic re-places what it lacks, once warned; --keep-partitions refuses" {
	create_topic wide -p 3
	fill_3parts wide
	create_topic narrow -p 2
	kqc -t wide -e -f json > "$BATS_TEST_TMPDIR/src.json"
	n2=$(kqc -t wide -p 2 -e -f json | wc -l)
	# --create does not grow a topic that existed before.
	run --separate-stderr bash -c 'set -o pipefail
		kq-consume -t wide -e -f json | kq-produce -t narrow -f json --create'
	assert_status 0
	[ "$(grep -c warning <<< "$stderr")" -eq 1 ] || fail "stderr: $stderr"
	[[ "$stderr" == *"warning: $n2 records named a partition that topic 'narrow' does not have"* ]] ||
		fail "stderr: $stderr"
	[ "$(kqt describe narrow | wc -l)" -eq 3 ] || fail "narrow grew: $(kqt describe narrow)"
	kqc -t narrow -e -f json > "$BATS_TEST_TMPDIR/copy.json"
	# Every record is there; those of partitions 0 and 1 stayed where they were.
	json_sorted "$BATS_TEST_TMPDIR/src.json" topic partition offset > "$BATS_TEST_TMPDIR/a"
	json_sorted "$BATS_TEST_TMPDIR/copy.json" topic partition offset > "$BATS_TEST_TMPDIR/b"
	assert_same_file "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	for p in 0 1; do
		json_sorted <(grep "\"partition\":$p," "$BATS_TEST_TMPDIR/src.json") topic offset \
			> "$BATS_TEST_TMPDIR/a"
		json_sorted "$BATS_TEST_TMPDIR/copy.json" topic offset > "$BATS_TEST_TMPDIR/b"
		[ -z "$(LC_ALL=C comm -23 "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b")" ] ||
			fail "records of partition $p moved"
	done
	# Strict: the first record of partition 2 is bad input, exit 5.
	create_topic narrow2 -p 2
	run --separate-stderr bash -c 'set -o pipefail
		kq-consume -t wide -e -f json | kq-produce -t narrow2 -f json --keep-partitions'
	assert_status 5
	[[ "$stderr" == *"stdin line "*": partition 2 does not exist"* ]] || fail "stderr: $stderr"
	[[ "$stderr" != *warning* ]] || fail "stderr: $stderr"
}

@test "json input: partition, headers as object, timestamp and base64 are honoured" {
	create_topic jin -p 2
	cat > "$BATS_TEST_TMPDIR/in.json" << 'EOF'
{"value":"plain","key":"k","partition":1,"timestamp":1714560000123,"headers":{"a":"1"}}
{"value":"AP8=","value_encoding":"base64","partition":1}
{"value":null,"key":"tomb","partition":1}
{"topic":"ignored","offset":99,"value":"","partition":1}
EOF
	run --separate-stderr kqp -t jin -f json "$BATS_TEST_TMPDIR/in.json"
	assert_status 0
	run --separate-stderr kqc -t jin -p 1 -e -f '%o|%K|%k|%S|%T|%x|%h\n'
	assert_status 0
	[ "${lines[0]}" = "0|1|k|5|1714560000123|706c61696e|a=1" ] || fail "line 0: ${lines[0]}"
	[[ "${lines[1]}" == "1|-1||2|"*"|00ff|" ]] || fail "line 1: ${lines[1]}"
	[[ "${lines[2]}" == "2|4|tomb|-1|"*"||" ]] || fail "line 2: ${lines[2]}"
	[[ "${lines[3]}" == "3|-1||0|"*"||" ]] || fail "line 3: ${lines[3]}"
	run --separate-stderr kqc -t jin -p 0 -e
	assert_status 0
	[ -z "$output" ]
}

@test "malformed JSON input is bad input: exit 5, earlier records delivered" {
	create_topic jbad -p 1
	printf '{"value":"good"}\n{"value":\n{"value":"after"}\n' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr kqp -t jbad -f json "$BATS_TEST_TMPDIR/in"
	assert_status 5
	[[ "$stderr" == *kq-produce:* ]]
	run --separate-stderr kqc -t jbad -e
	assert_status 0
	[ "$output" = good ]
}

@test "templates: %p:%o:%k:%s and the other tokens" {
	create_topic tmpl -p 1
	printf 'a\t1\nbb\t22\n' | kqp -t tmpl -K '\t' -H h1=x
	printf 'nokey\n' | kqp -t tmpl
	run --separate-stderr kqc -t tmpl -e -f '%p:%o:%k:%s\n'
	assert_status 0
	[ "$output" = "$(printf '0:0:a:1\n0:1:bb:22\n0:2::nokey')" ] || fail "got: $output"
	run --separate-stderr kqc -t tmpl -e -f '%t %K %S %H{h1} %x %b 100%%\n'
	assert_status 0
	[ "${lines[0]}" = "tmpl 1 1 x 31 MQ== 100%" ] || fail "line 0: ${lines[0]}"
	[ "${lines[1]}" = "tmpl 2 2 x 3232 MjI= 100%" ] || fail "line 1: ${lines[1]}"
	[ "${lines[2]}" = "tmpl -1 5  6e6f6b6579 bm9rZXk= 100%" ] || fail "line 2: ${lines[2]}"
	run --separate-stderr kqc -t tmpl -e -f '%T %D\n'
	assert_status 0
	for l in "${lines[@]}"; do
		[[ "$l" =~ ^[0-9]{13}\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] ||
			fail "bad %T %D line: $l"
	done
	# No newline is added to a template.
	kqc -t tmpl -e -f '%s,' > "$BATS_TEST_TMPDIR/out"
	printf '1,22,nokey,' > "$BATS_TEST_TMPDIR/want"
	assert_same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
	# %R: value length as a 4-byte big-endian integer.
	kqc -t tmpl -e -c 1 -f '%R%s' > "$BATS_TEST_TMPDIR/r"
	printf '\000\000\000\001%s' 1 > "$BATS_TEST_TMPDIR/want.r"
	assert_same_file "$BATS_TEST_TMPDIR/want.r" "$BATS_TEST_TMPDIR/r"
}

@test "-Z makes empty keys/values null; --null prints them; -K round trips" {
	create_topic nulls -p 1
	printf 'user42\t\n\tv\nk\tv\n' | kqp -t nulls -K '\t' -Z
	run --separate-stderr kqc -t nulls -e -f '%K %S\n'
	assert_status 0
	[ "$output" = "$(printf '6 -1\n-1 1\n1 1')" ] || fail "got: $output"
	run --separate-stderr kqc -t nulls -e -K '\t' --null NULL
	assert_status 0
	[ "$output" = "$(printf 'user42\tNULL\nNULL\tv\nk\tv')" ] || fail "got: $output"
	# Without -Z, empty stays empty (not null).
	create_topic empty -p 1
	printf 'e\t\n' | kqp -t empty -K '\t'
	run --separate-stderr kqc -t empty -e -f '%K %S\n'
	[ "$output" = "1 0" ] || fail "got: $output"
	# -k gives a key to records without one.
	create_topic defkey -p 1
	printf 'a\tb\nplain\n' | kqp -t defkey -K '\t' -k host1
	run --separate-stderr kqc -t defkey -e -f '%k=%s\n'
	[ "$output" = "$(printf 'a=b\nhost1=plain')" ] || fail "got: $output"
}

@test "headers: -H NAME=VAL and NAME, repeated, in order; --header-match filters" {
	create_topic hdrs -p 1
	printf 'one\n' | kqp -t hdrs -H a=1 -H b -H a=2
	printf 'two\n' | kqp -t hdrs -H a=3
	run --separate-stderr kqc -t hdrs -e -f '%h|%s\n'
	assert_status 0
	[[ "${lines[0]}" == "a=1,b"*",a=2|one" ]] || fail "line 0: ${lines[0]}"
	[ "${lines[1]}" = "a=3|two" ] || fail "line 1: ${lines[1]}"
	run --separate-stderr kqc -t hdrs -e --header-match a=3
	assert_status 0
	[ "$output" = two ]
}

@test "raw format makes each file one record" {
	create_topic rawt -p 1
	printf 'multi\nline\nfile\n' > "$BATS_TEST_TMPDIR/f1"
	printf 'second' > "$BATS_TEST_TMPDIR/f2"
	run --separate-stderr kqp -t rawt -f raw "$BATS_TEST_TMPDIR/f1" "$BATS_TEST_TMPDIR/f2"
	assert_status 0
	run --separate-stderr kqc -t rawt -e -f '%S\n'
	[ "$output" = "$(printf '16\n6')" ] || fail "got: $output"
}

compress_roundtrip() {
	local codec=$1 t="z-$1" logbytes inbytes
	"$GEN" 20000 plain > "$BATS_TEST_TMPDIR/in"
	create_topic "$t" -p 1
	run --separate-stderr kqp -t "$t" -z "$codec" "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t "$t" -e > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	# The batches really are compressed on disk (the text compresses well).
	inbytes=$(wc -c < "$BATS_TEST_TMPDIR/in")
	logbytes=$(cat "$KQ_DATA/$t-0/"*.log | wc -c)
	[ "$logbytes" -gt 0 ] || fail "no log data in $KQ_DATA/$t-0"
	[ "$logbytes" -lt $((inbytes / 2)) ] ||
		fail "$codec: $logbytes bytes on disk for $inbytes bytes of input"
}

@test "compression round trip: gzip" {
	compress_roundtrip gzip
}

@test "compression round trip: snappy" {
	compress_roundtrip snappy
}

@test "compression round trip: lz4" {
	compress_roundtrip lz4
}

@test "compression round trip: zstd" {
	compress_roundtrip zstd
}
