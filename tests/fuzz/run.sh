#!/bin/sh
# run.sh [SECONDS] - build the libFuzzer targets with clang-14 into
# $FUZZ_O (default build/fuzz) and run each for SECONDS (default 60), one
# at a time, on a scratch copy of its seed corpus.  Exits non-zero if any
# target crashed; the crash input is left in $FUZZ_O/artifacts/<target>/ and its log
# in $FUZZ_O/<target>.log.
#   FUZZ_TARGETS="fuzz-batch fuzz-request"  run only these
#   FUZZ_BUILD_ONLY=1                       build, do not run
#   FUZZ_REPLAY=1                           only replay corpora and crashes
set -u

secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${FUZZ_O:-build/fuzz}
case $O in /*) ;; *) O=$top/$O ;; esac
CC=${FUZZ_CC:-clang-14}
targets=${FUZZ_TARGETS:-"fuzz-request fuzz-response fuzz-batch fuzz-msgset fuzz-checkpoint fuzz-log-recover"}

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -pthread \
	-Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wno-unused-parameter"
LIBS="-lz -llz4 -lzstd -lsnappy -lpthread -lm"

command -v "$CC" >/dev/null 2>&1 || { echo "run.sh: $CC not found" >&2; exit 2; }
mkdir -p "$O/obj" || exit 2

# The library objects are built once and shared by every target: base,
# proto and log are all a decoder needs (no sockets, no libevent).
objs=
for src in "$top"/common/base/*.c "$top"/common/proto/*.c "$top"/common/log/*.c; do
	mod=$(basename "$(dirname "$src")")
	obj=$O/obj/$mod-$(basename "$src" .c).o
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
	   [ -n "$(find "$top/common" -name '*.h' -newer "$obj" 2>/dev/null)" ]; then
		$CC $CFLAGS -fsanitize=fuzzer-no-link,address,undefined \
			-fno-sanitize-recover=undefined -Wno-format-nonliteral -I"$top/common" \
			-c "$src" -o "$obj" || exit 2
	fi
	objs="$objs $obj"
done
for t in $targets; do
	$CC $CFLAGS -Werror $SAN -I"$top/common" "$top/tests/fuzz/$t.c" $objs \
		$LIBS -o "$O/$t" || exit 2
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

max_len() {
	case $1 in
	fuzz-log-recover) echo 1048576 ;;
	fuzz-checkpoint) echo 16384 ;;
	*) echo 65536 ;;
	esac
}

failed=0
for t in $targets; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/kq-$t.XXXXXX") || exit 2
	mkdir -p "$work/corpus" "$O/artifacts/$t"
	cp "$top/tests/fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null
	# -close_fd_mask=2 hides the log's recovery warnings; libFuzzer and the
	# sanitizers still report on a saved copy of stderr.
	opts="-rss_limit_mb=512 -malloc_limit_mb=64 -timeout=5 -max_len=$(max_len "$t") \
		-close_fd_mask=2 -print_final_stats=1 -artifact_prefix=$O/artifacts/$t/"
	if [ -n "${FUZZ_REPLAY:-}" ]; then
		set -- "$work/corpus"/*
		for c in "$top/tests/fuzz/crashes/$t"-*; do
			[ -f "$c" ] && set -- "$@" "$c"
		done
		"$O/$t" $opts -runs=0 "$@" >"$O/$t.log" 2>&1
	else
		echo "run.sh: $t for ${secs}s"
		"$O/$t" $opts -jobs=1 -max_total_time="$secs" "$work/corpus" \
			>"$O/$t.log" 2>&1 </dev/null
	fi
	rc=$?
	rm -rf "$work"
	if [ $rc -ne 0 ]; then
		echo "run.sh: $t FAILED (exit $rc), see $O/$t.log" >&2
		grep -m1 -E 'ERROR|SUMMARY|deadly|runtime error' "$O/$t.log" >&2
		failed=1
	else
		grep -E '^stat::number_of_executed_units|cov:' "$O/$t.log" | tail -1
	fi
done
exit $failed
