#!/bin/sh
# make bench: kq against its peers, in one run, on this machine.
#   run.sh OBJDIR BINDIR      (QUICK=1 in the environment: the reduced matrix)
# Every row runs once to warm up, then RUNS times; the table shows the median
# and min-max of records per second.  Servers (kq-broker, redis-server,
# nats-server) listen on 127.0.0.1 with free ports and temporary directories
# and are stopped by PID.  Results: a table on stdout and
# build/bench/results.json.
set -eu
obj=${1:-build}
bin=${2:-bin}
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$bin" && pwd)
perf=$(cd "$obj/bench" && pwd)/kq-perf
out="$top/build/bench"
mkdir -p "$out"
tmp=$(mktemp -d "$out/tmp.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2> /dev/null || true; done
	sleep 0.5
	for p in $pids; do kill -9 "$p" 2> /dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

sh "$top/share/deps.sh" bench

if [ "${QUICK:-}" = 1 ]; then
	N=500000 N1K=100000 NSYNC=2000 RUNS=3 E2E_S=2 QUICK=1
else
	N=5000000 N1K=1000000 NSYNC=20000 RUNS=3 E2E_S=5 QUICK=0
fi
PY=/usr/bin/python3
VALUE=$(head -c 100 /dev/zero | tr '\0' x)

log() { printf '%s\n' "$*" >&2; }

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens there (10 s at most).
wait_port() {
	i=0
	while ! $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' \
		"$1" 2> /dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { log "bench: nothing listens on port $1"; exit 1; }
		sleep 0.1
	done
}

# start_kq NAME [broker args...]: a fresh broker; sets KQB (brokers) and KQPID.
start_kq() {
	name=$1
	shift
	rm -rf "${tmp:?}/$name"
	"$bin/kq-broker" --listen 127.0.0.1:0 --data-dir "$tmp/$name" \
		-X offsets.topic.num.partitions=1 "$@" 2> "$tmp/$name.log" &
	KQPID=$!
	pids="$pids $KQPID"
	i=0
	while ! grep -q 'ready on' "$tmp/$name.log" 2> /dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { log "bench: kq-broker did not start"; cat "$tmp/$name.log" >&2; exit 1; }
		sleep 0.05
	done
	KQB=$(sed -n 's/.*ready on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/$name.log" | head -n 1)
}

stop_pid() {
	kill "$1" 2> /dev/null || true
	wait "$1" 2> /dev/null || true
}

# CPU seconds (user + system) and peak RSS (KiB) of a process.
cpu_of() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
rss_of() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
# cpu_per_record CPU0 CPU1: microseconds per record over the warm-up and RUNS runs of N.
cpu_per_record() {
	echo "$1 $2 $N $RUNS" | awk '{ printf "%.3f", ($2 - $1) * 1e6 / ($3 * ($4 + 1)) }'
}

now() { date +%s.%N; }

# Rows: name, then records/s of each run; written to $tmp/rows.
: > "$tmp/rows"
: > "$tmp/extra"
row() {
	printf '%s\t%s\n' "$1" "$2" >> "$tmp/rows"
}
extra() {
	echo "$*" >> "$tmp/extra"
}

# timed N CMD...: run CMD (a shell string) once to warm up and RUNS times;
# prints the records/s of each timed run.
timed() {
	n=$1
	shift
	sh -c "$*" > /dev/null
	r=0
	rates=""
	while [ $r -lt "$RUNS" ]; do
		t0=$(now)
		sh -c "$*" > /dev/null
		t1=$(now)
		rates="$rates $(echo "$n $t0 $t1" | awk '{ printf "%.0f", $1 / ($3 - $2) }')"
		r=$((r + 1))
	done
	echo "$rates"
}

# perf_rate JSON: the "rate" field; perf_field JSON NAME.
perf_field() { echo "$1" | $PY -c 'import json,sys; print(json.loads(sys.stdin.read()).get(sys.argv[1], ""))' "$2"; }

log "bench: generating $N lines of 100 bytes"
$PY -c '
import sys
n = int(sys.argv[1])
line = b"x" * 99 + b"\n"
chunk = line * 10000
w = sys.stdout.buffer
for _ in range(n // 10000):
    w.write(chunk)
w.write(line * (n % 10000))
' "$N" > "$tmp/lines"

# new_topic [PARTITIONS]: a fresh topic on the current broker, named in $T.
topic_seq=0
new_topic() {
	topic_seq=$((topic_seq + 1))
	T="t$topic_seq"
	"$bin/kq-topics" -b "$KQB" create "$T" -p "${1:-1}" > /dev/null
}

# ---- kq: the tools as users run them ----
kq_produce_row() {
	label=$1
	acks=$2
	shift 2
	start_kq kqp "$@"
	cpu0=$(cpu_of "$KQPID")
	cmd="t=\$(\"$bin/kq-topics\" -b $KQB list | wc -l); \"$bin/kq-topics\" -b $KQB create p\$t > /dev/null; \"$bin/kq-produce\" -q -b $KQB -t p\$t -a $acks < \"$tmp/lines\""
	rates=$(timed "$N" "$cmd")
	cpu1=$(cpu_of "$KQPID")
	row "$label" "$rates"
	extra "$label cpu_us_per_record $(cpu_per_record "$cpu0" "$cpu1") peak_rss_kib $(rss_of "$KQPID")"
	stop_pid "$KQPID"
}

log "bench: kq-produce"
kq_produce_row "kq-produce acks=1 (durable)" 1
kq_produce_row "kq-produce acks=all (durable)" all
kq_produce_row "kq-produce acks=0" 0
kq_produce_row "kq-produce acks=1 (log.flush=os)" 1 -X log.flush=os

log "bench: kq-consume, kcat"
start_kq kqc
new_topic
"$bin/kq-produce" -b "$KQB" -t "$T" -a 1 < "$tmp/lines"
row "kq-consume -e" "$(timed "$N" "\"$bin/kq-consume\" -b $KQB -t $T -e")"
row "kcat -C -e" "$(timed "$N" "kcat -b $KQB -C -t $T -e -q")"
# The same records read by one client with Fetch v11 (zero-copy) and with Fetch v3,
# which the broker down-converts to MessageSet v1 (h_legacy.c); broker CPU per record.
fetch_row() {
	cpu0=$(cpu_of "$KQPID")
	row "$1" "$(timed "$N" "\"$perf\" fetch $KQB $T $N $2")"
	cpu1=$(cpu_of "$KQPID")
	extra "$1 broker_cpu_us_per_record $(cpu_per_record "$cpu0" "$cpu1")"
}
fetch_row "kq-perf Fetch v11 (zero-copy)" 11
fetch_row "kq-perf Fetch v3 (down-converted)" 3
row "kcat -P acks=1" "$(timed "$N" "t=\$(\"$bin/kq-topics\" -b $KQB list | wc -l); \"$bin/kq-topics\" -b $KQB create k\$t > /dev/null; kcat -b $KQB -P -t k\$t -X acks=1 -X linger.ms=5 < \"$tmp/lines\"")"
row "kq-produce acks=1 (same broker as kcat)" "$(timed "$N" "t=\$(\"$bin/kq-topics\" -b $KQB list | wc -l); \"$bin/kq-topics\" -b $KQB create q\$t > /dev/null; \"$bin/kq-produce\" -b $KQB -t q\$t -a 1 < \"$tmp/lines\"")"
stop_pid "$KQPID"

log "bench: kq-perf (1 KiB, 8 partitions, synchronous, end to end)"
start_kq kqperf
new_topic
row "kq-perf 1 KiB acks=1" "$(timed "$N1K" "\"$perf\" produce $KQB $T $N1K 1024 1")"
new_topic 8
row "kq-perf 100 B 8 partitions acks=1" "$(timed "$N" "\"$perf\" produce $KQB $T $N 100 1")"
new_topic
j=$("$perf" produce "$KQB" "$T" "$NSYNC" 100 1 sync)
row "kq-perf synchronous (1 in flight)" "$(perf_field "$j" rate)"
extra "kq synchronous produce p50_us $(perf_field "$j" p50_us) p99_us $(perf_field "$j" p99_us) p999_us $(perf_field "$j" p999_us)"
max=$(awk -F'\t' '$1 == "kq-produce acks=1 (durable)" { print $2 }' "$tmp/rows" | tr ' ' '\n' | sort -n | tail -n 1)
half=$(( ${max:-20000} / 2 ))
[ "$half" -le 50000 ] || half=50000	# one record per request: beyond that the client is the limit
for rate in 1000 10000 $half; do
	new_topic
	j=$("$perf" e2e "$KQB" "$T" "$rate" "$E2E_S" 100)
	extra "kq e2e (durable) at $rate/s p50_us $(perf_field "$j" p50_us) p99_us $(perf_field "$j" p99_us) p999_us $(perf_field "$j" p999_us)"
done
stop_pid "$KQPID"
start_kq kqos -X log.flush=os
for rate in 1000 10000; do
	new_topic
	j=$("$perf" e2e "$KQB" "$T" "$rate" "$E2E_S" 100)
	extra "kq e2e (log.flush=os) at $rate/s p50_us $(perf_field "$j" p50_us) p99_us $(perf_field "$j" p99_us) p999_us $(perf_field "$j" p999_us)"
done
stop_pid "$KQPID"

# ---- Redis Streams ----
log "bench: Redis Streams"
redis_rate() {
	tr '\r' '\n' | grep 'requests per second' | tail -n 1 | sed 's/.*: \([0-9.]*\) requests per second.*/\1/'
}
start_redis() {
	RPORT=$(free_port)
	mkdir -p "$tmp/redis"
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --dir "$tmp/redis" "$@" \
		> "$tmp/redis.log" 2>&1 &
	RPID=$!
	pids="$pids $RPID"
	wait_port "$RPORT"
}
redis_xadd() {
	# $1 clients, $2 pipeline
	rates=""
	r=0
	while [ $r -le "$RUNS" ]; do
		redis-cli -p "$RPORT" del kqb > /dev/null
		x=$(redis-benchmark -p "$RPORT" -n "$N" -c "$1" -P "$2" XADD kqb '*' v "$VALUE" 2>&1 | redis_rate)
		[ $r -eq 0 ] || rates="$rates ${x%.*}"
		r=$((r + 1))
	done
	echo "$rates"
}
start_redis --appendonly no
row "Redis XADD, 1 pipelined client" "$(redis_xadd 1 1000)"
row "Redis XADD, 50 clients" "$(redis_xadd 50 100)"
rates=""
r=0
while [ $r -le "$RUNS" ]; do
	x=$(redis-benchmark -p "$RPORT" -n $((N / 1000)) -c 1 XREAD COUNT 1000 STREAMS kqb 0 2>&1 | redis_rate)
	[ $r -eq 0 ] || rates="$rates $(echo "$x" | awk '{ printf "%.0f", $1 * 1000 }')"
	r=$((r + 1))
done
row "Redis XREAD COUNT 1000" "$rates"
for rate in 1000 10000; do
	redis-cli -p "$RPORT" del kqs > /dev/null
	j=$("$perf" redis-e2e "127.0.0.1:$RPORT" "$rate" "$E2E_S" 100)
	extra "redis e2e at $rate/s p50_us $(perf_field "$j" p50_us) p99_us $(perf_field "$j" p99_us) p999_us $(perf_field "$j" p999_us)"
done
stop_pid "$RPID"
start_redis --appendonly yes --appendfsync always
row "Redis XADD, 1 pipelined client, AOF always" "$(redis_xadd 1 1000)"
stop_pid "$RPID"

# ---- NATS JetStream ----
log "bench: NATS JetStream"
NPORT=$(free_port)
mkdir -p "$tmp/nats"
nats-server -js -sd "$tmp/nats" -a 127.0.0.1 -p "$NPORT" > "$tmp/nats.log" 2>&1 &
NPID=$!
pids="$pids $NPID"
wait_port "$NPORT"
NN=$((N / 5))
pub=""
sub=""
r=0
while [ $r -le "$RUNS" ]; do
	j=$("$perf" nats-pub "127.0.0.1:$NPORT" "$NN" 100)
	k=$("$perf" nats-sub "127.0.0.1:$NPORT" "$NN")
	if [ $r -gt 0 ]; then
		pub="$pub $(perf_field "$j" rate)"
		sub="$sub $(perf_field "$k" rate)"
	fi
	r=$((r + 1))
done
row "JetStream async publish (file)" "$pub"
row "JetStream pull consume" "$sub"
stop_pid "$NPID"

# ---- report ----
$PY - "$tmp/rows" "$tmp/extra" "$out/results.json" "$QUICK" "$N" <<'EOF'
import json, statistics, sys
rows_f, extra_f, out_f, quick, n = sys.argv[1:6]
rows = []
for line in open(rows_f):
    name, rates = line.rstrip("\n").split("\t")
    v = [float(x) for x in rates.split()]
    rows.append({"name": name, "median": statistics.median(v), "min": min(v), "max": max(v), "runs": v})
extra = [l.strip() for l in open(extra_f) if l.strip()]
med = {r["name"]: r["median"] for r in rows}
def ratio(a, b):
    return med[a] / med[b] if a in med and b in med and med[b] else float("nan")
ratios = {
    "kq-produce / Redis XADD (1 pipelined client)": ratio("kq-produce acks=1 (durable)", "Redis XADD, 1 pipelined client"),
    "kq-consume / Redis XREAD": ratio("kq-consume -e", "Redis XREAD COUNT 1000"),
    "kq-produce / JetStream async publish": ratio("kq-produce acks=1 (durable)", "JetStream async publish (file)"),
    "kq-produce / kcat -P": ratio("kq-produce acks=1 (same broker as kcat)", "kcat -P acks=1"),
    "kq-consume / kcat -C": ratio("kq-consume -e", "kcat -C -e"),
    "Fetch v3 down-converted / Fetch v11 zero-copy": ratio("kq-perf Fetch v3 (down-converted)", "kq-perf Fetch v11 (zero-copy)"),
}
def e2e(prefix):
    for l in extra:
        if l.startswith(prefix):
            w = l.split()
            return float(w[w.index("p99_us") + 1])
    return float("nan")
ratios["kq e2e p99 / Redis e2e p99 at 10k/s (durable kq)"] = e2e("kq e2e (durable) at 10000/s") / e2e("redis e2e at 10000/s")
ratios["kq e2e p99 / Redis e2e p99 at 10k/s (log.flush=os)"] = e2e("kq e2e (log.flush=os) at 10000/s") / e2e("redis e2e at 10000/s")
w = max(len(r["name"]) for r in rows)
print("%-*s  %14s  %25s  %9s" % (w, "row (100-byte records unless noted)", "median rec/s", "min - max", "MB/s"))
for r in rows:
    size = 1024 if "1 KiB" in r["name"] else 100
    print("%-*s  %14s  %25s  %9.1f" % (w, r["name"], format(int(r["median"]), ","),
          "%s - %s" % (format(int(r["min"]), ","), format(int(r["max"]), ",")), r["median"] * size / 1e6))
print()
for l in extra:
    print(l)
print()
for k, v in ratios.items():
    print("%-55s %.2f" % (k, v))
mbs = med.get("kq-produce acks=1 (durable)", 0) * 100 / 1e6
mbc = med.get("kq-consume -e", 0) * 100 / 1e6
print("%-55s %.1f MB/s (%.0f%% of first-touch page cache ~350 MB/s)" % ("kq-produce payload", mbs, mbs / 3.5))
print("%-55s %.1f MB/s (%.0f%% of loopback ~3.4 GB/s)" % ("kq-consume payload", mbc, mbc / 34))
json.dump({"quick": quick == "1", "records": int(n), "rows": rows, "extra": extra, "ratios": ratios},
          open(out_f, "w"), indent=1)
EOF
log "bench: results in $out/results.json"
