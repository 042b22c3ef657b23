#!/bin/sh
# Run kq's tests and print one closing line "N passed, N failed, N skipped".
#   run.sh OBJDIR BINDIR [unit|e2e]
# Unit tests are TAP binaries in OBJDIR/tests; end-to-end tests are bats files
# in tests/bats, run against the programs in BINDIR.
obj=${1:-build}
bin=${2:-bin}
what=${3:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/kq-test.XXXXXX")
trap 'rm -rf "$out"' EXIT
status=0

# Every program the tests run must be here before the first test starts: a
# missing one stops the run with a line naming its Debian package.
if [ "$what" != unit ] && ! sh "$top/share/deps.sh" check test >&2; then
	echo "run.sh: missing test dependencies; run: sh share/deps.sh test" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

if [ "$what" != e2e ]; then
	for t in "$obj"/tests/test-*; do
		[ -x "$t" ] || continue
		echo "# unit: $(basename "$t")"
		"$t" > "$out/u.tap" 2>&1 || status=1
		cat "$out/u.tap"
		cat "$out/u.tap" >> "$out/all.tap"
	done
fi
if [ "$what" != unit ]; then
	KQ_BIN=$(cd "$bin" && pwd)
	export KQ_BIN
	# shellcheck disable=SC2046
	bats --tap $(ls "$top"/tests/bats/*.bats 2>/dev/null) > "$out/b.tap" 2>&1 || status=1
	cat "$out/b.tap"
	cat "$out/b.tap" >> "$out/all.tap"
fi
touch "$out/all.tap"
skipped=$(grep -cE '^ok [0-9]+.*# *(skip|SKIP)' "$out/all.tap")
passed=$(grep -cE '^ok [0-9]+' "$out/all.tap")
passed=$((passed - skipped))
failed=$(grep -cE '^not ok [0-9]+' "$out/all.tap")
[ "$failed" -eq 0 ] || status=1
[ $((passed + failed)) -gt 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
