#!/usr/bin/env bats
# Interoperability with independent clients: kcat (librdkafka), kafka-python
# and python3-confluent-kafka.  kq's tools read what they write and the other
# way round, with exact data checks.

bats_require_minimum_version 1.5.0
load helpers

GEN="$BATS_TEST_DIRNAME/../fixtures/e2e/gen-lines"

need_kcat() {
	have kcat || skip "kcat is not installed"
}

need_kafka_python() {
	have_py_module kafka || skip "python3-kafka is not installed"
}

need_confluent() {
	have_py_module confluent_kafka || skip "python3-confluent-kafka is not installed"
}

# kcat data lines: no empty lines (kcat -P drops them silently).
kcat_lines() {
	"$GEN" "$1" plain | grep -v '^$'
}

@test "kcat -L lists the broker and the topics" {
	need_kcat
	create_topic kc-meta -p 3
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -L
	assert_status 0
	[[ "$output" == *" 1 brokers:"* ]] || fail "$output"
	[[ "$output" == *"broker 0 at 127.0.0.1:$KQ_PORT"* ]] || fail "$output"
	[[ "$output" == *'topic "kc-meta" with 3 partitions:'* ]] || fail "$output"
	[[ "$output" == *"partition 2, leader 0, replicas: 0, isrs: 0"* ]] || fail "$output"
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -L -t kc-meta -J
	assert_status 0
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/l.json"
	"$KQ_PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["topics"] if t["topic"] == "kc-meta"][0]
assert len(t["partitions"]) == 3, t
assert m["brokers"][0]["id"] == 0, m
' "$BATS_TEST_TMPDIR/l.json"
}

@test "kcat -P writes, kq-consume -e reads it back exactly" {
	need_kcat
	kcat_lines 5000 > "$BATS_TEST_TMPDIR/in"
	create_topic kc-in -p 1
	run --separate-stderr timeout 60 kcat -b "$KQ_BROKERS" -P -t kc-in -p 0 -X acks=all \
		< "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t kc-in -e > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	# Unpartitioned kcat -P into 3 partitions: same records.
	create_topic kc-in3 -p 3
	timeout 60 kcat -b "$KQ_BROKERS" -P -t kc-in3 < "$BATS_TEST_TMPDIR/in"
	kqc -t kc-in3 -e | sort > "$BATS_TEST_TMPDIR/out3"
	sort "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/in.sorted"
	assert_same_file "$BATS_TEST_TMPDIR/in.sorted" "$BATS_TEST_TMPDIR/out3"
}

@test "kcat -P with keys and headers, read by kq-consume" {
	need_kcat
	create_topic kc-keys -p 3
	printf 'k1:v1\nk2:v2\nk1:v3\n' |
		timeout 60 kcat -b "$KQ_BROKERS" -P -t kc-keys -K : -H h=x -H g=y
	run --separate-stderr kqc -t kc-keys -e -f '%k %s %h\n'
	assert_status 0
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' '|')" = "k1 v1 h=x,g=y|k1 v3 h=x,g=y|k2 v2 h=x,g=y|" ] ||
		fail "$output"
	# Same key, same partition, in order.
	run --separate-stderr kqc -t kc-keys -e -f '%p %k %s\n'
	[ "$(printf '%s\n' "${lines[@]}" | grep ' k1 ' | cut -d' ' -f1 | sort -u | wc -l)" -eq 1 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep ' k1 ' | cut -d' ' -f3 | tr '\n' ' ')" = "v1 v3 " ]
}

@test "kq-produce writes, kcat -C -e reads it back exactly (keys, headers, 3 partitions)" {
	need_kcat
	kcat_lines 20000 > "$BATS_TEST_TMPDIR/in"
	create_topic kc-out -p 1
	kqp -t kc-out < "$BATS_TEST_TMPDIR/in"
	timeout 60 kcat -b "$KQ_BROKERS" -C -t kc-out -p 0 -o beginning -e -q > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	"$GEN" 6000 keyed > "$BATS_TEST_TMPDIR/kin"
	create_topic kc-out3 -p 3
	kqp -t kc-out3 -K '\t' -H src=kq < "$BATS_TEST_TMPDIR/kin"
	timeout 60 kcat -b "$KQ_BROKERS" -C -t kc-out3 -o beginning -e -q -f '%k\t%s\n' \
		> "$BATS_TEST_TMPDIR/kout"
	sort -s -t "$(printf '\t')" -k1,1 "$BATS_TEST_TMPDIR/kin" > "$BATS_TEST_TMPDIR/a"
	sort -s -t "$(printf '\t')" -k1,1 "$BATS_TEST_TMPDIR/kout" > "$BATS_TEST_TMPDIR/b"
	assert_same_file "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -C -t kc-out3 -o beginning -e -q -c 1 -f '%h\n'
	assert_status 0
	[ "$output" = "src=kq" ] || fail "headers via kcat: $output"
}

kcat_codec() {
	local codec=$1
	need_kcat
	kcat_lines 5000 > "$BATS_TEST_TMPDIR/in"
	create_topic "kcz-$codec" -p 1
	# kcat compresses, kq reads.
	run --separate-stderr timeout 60 kcat -b "$KQ_BROKERS" -P -t "kcz-$codec" -p 0 \
		-X compression.codec="$codec" -X acks=all < "$BATS_TEST_TMPDIR/in"
	assert_status 0
	kqc -t "kcz-$codec" -e > "$BATS_TEST_TMPDIR/out"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	# kq compresses, kcat reads.
	create_topic "kqz-$codec" -p 1
	kqp -t "kqz-$codec" -z "$codec" < "$BATS_TEST_TMPDIR/in"
	timeout 60 kcat -b "$KQ_BROKERS" -C -t "kqz-$codec" -o beginning -e -q -X check.crcs=true \
		> "$BATS_TEST_TMPDIR/out2"
	assert_same_file "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out2"
}

@test "kcat compression.codec=gzip both ways" {
	kcat_codec gzip
}

@test "kcat compression.codec=snappy both ways" {
	kcat_codec snappy
}

@test "kcat compression.codec=lz4 both ways" {
	kcat_codec lz4
}

@test "kcat compression.codec=zstd both ways" {
	kcat_codec zstd
}

@test "kcat -Q -t TOPIC:0:TS returns the first offset at or after TS" {
	need_kcat
	create_topic kcq -p 1
	seq 1 500 | kqp -t kcq
	sleep 0.05
	t=$(now_ms)
	sleep 1.1
	seq 501 600 | kqp -t kcq
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -Q -t "kcq:0:$t"
	assert_status 0
	[[ "$output" == *"kcq [0] offset 500"* ]] || fail "kcat -Q: $output"
	# Before the first record: offset 0; after the last: -1, as Kafka answers.
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -Q -t "kcq:0:1000000000000"
	assert_status 0
	[[ "$output" == *"kcq [0] offset 0"* ]] || fail "kcat -Q early: $output"
	run --separate-stderr timeout 30 kcat -b "$KQ_BROKERS" -Q -t "kcq:0:$(($(now_ms) + 3600000))"
	assert_status 0
	[[ "$output" == *"kcq [0] offset -1"* ]] || fail "kcat -Q late: $output"
	# kq-consume agrees.
	run --separate-stderr kqc -t kcq -o "@$t" -e -c 1
	assert_status 0
	[ "$output" = 501 ]
}

@test "kafka-python: acks=all producer metadata, assign+seek reads exact values" {
	need_kafka_python
	create_topic kp -p 3
	run timeout 120 "$KQ_PY" "$KQ_INTEROP/kp_roundtrip.py" "$KQ_BROKERS" kp 3000 "$BATS_TEST_TMPDIR/acked"
	assert_status 0
	# kq-consume sees exactly what kafka-python had acknowledged.
	kqc -t kp -e -f '%p %o %k %s\n' | sort > "$BATS_TEST_TMPDIR/kq"
	sort "$BATS_TEST_TMPDIR/acked" > "$BATS_TEST_TMPDIR/acked.sorted"
	assert_same_file "$BATS_TEST_TMPDIR/acked.sorted" "$BATS_TEST_TMPDIR/kq"
}

@test "kafka-python reads what kq-produce wrote; keys placed like the Java client" {
	need_kafka_python
	create_topic kq2kp -p 5
	"$GEN" 4000 keyed > "$BATS_TEST_TMPDIR/in"
	kqp -t kq2kp -K '\t' < "$BATS_TEST_TMPDIR/in"
	run --separate-stderr timeout 120 "$KQ_PY" "$KQ_INTEROP/kp_consume.py" "$KQ_BROKERS" kq2kp
	assert_status 0
	printf '%s\n' "$output" | sort > "$BATS_TEST_TMPDIR/kp"
	kqc -t kq2kp -e -f '%p %o %k %s\n' | sort > "$BATS_TEST_TMPDIR/kq"
	assert_same_file "$BATS_TEST_TMPDIR/kq" "$BATS_TEST_TMPDIR/kp"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/kp")" -eq 4000 ]
	kqc -t kq2kp -e -f '%k %p\n' | sort -u > "$BATS_TEST_TMPDIR/keys"
	run "$KQ_PY" "$KQ_INTEROP/kp_partitions.py" 5 < "$BATS_TEST_TMPDIR/keys"
	assert_status 0
}

@test "kafka-python admin: create_topics, list_topics, describe_configs" {
	need_kafka_python
	run timeout 120 "$KQ_PY" "$KQ_INTEROP/kp_admin.py" "$KQ_BROKERS" kp-admin
	assert_status 0
	run --separate-stderr kqt describe kp-admin --no-headers
	assert_status 0
	[ "${#lines[@]}" -eq 3 ]
}

@test "confluent-kafka: Producer (acks=all) and Consumer (assign) round trip" {
	need_confluent
	create_topic ck -p 3
	run timeout 120 "$KQ_PY" "$KQ_INTEROP/ck_roundtrip.py" "$KQ_BROKERS" ck 2000
	assert_status 0
	[ "$(kqc -t ck -e | wc -l)" -eq 2000 ]
}

@test "confluent-kafka with zstd and lz4 compression" {
	need_confluent
	create_topic ckz -p 2
	run timeout 120 "$KQ_PY" "$KQ_INTEROP/ck_roundtrip.py" "$KQ_BROKERS" ckz 1000 zstd
	assert_status 0
	run timeout 120 "$KQ_PY" "$KQ_INTEROP/ck_roundtrip.py" "$KQ_BROKERS" ckz 1000 lz4
	assert_status 0
	# The same 1000 values twice, once per codec.
	kqc -t ckz -e | sort | uniq -c | awk '$1 != 2' > "$BATS_TEST_TMPDIR/odd"
	[ "$(kqc -t ckz -e | sort -u | wc -l)" -eq 1000 ]
	[ ! -s "$BATS_TEST_TMPDIR/odd" ] || fail "not twice: $(head -n 5 "$BATS_TEST_TMPDIR/odd")"
}
