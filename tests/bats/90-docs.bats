#!/usr/bin/env bats
# Drift checks (STYLE.md section 9.5): every option in a program's own table
# (PROG --list-options, the table --help and getopt are built from) is in
# its --help, its man page SYNOPSIS and body, its part of both completion
# files, and at least one other test; hidden aliases are in the man page.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	:
}

MAN="$KQ_TOP/man"
COMP="$KQ_TOP/completions"
PROGS="kq-produce kq-consume kq-topics kq-groups kq-broker"

man_page() {
	case $1 in
	kq-broker) echo "$MAN/kq-broker.8" ;;
	*) echo "$MAN/$1.1" ;;
	esac
}

# opts PROG WHICH: the options of PROG's table, one per line: the spelling
# docs must use (the long name, else the short letter), then the short
# letter or -; WHICH is shown, hidden or all.
opts() {
	local long short arg flag
	"$1" --list-options > "$BATS_TEST_TMPDIR/list"
	[ -s "$BATS_TEST_TMPDIR/list" ] || fail "$1 --list-options lists nothing"
	while read -r long short arg flag; do
		case $2:$flag in
		shown:hidden | hidden:) continue ;;
		esac
		if [ "$long" != - ]; then echo "$long $short"; else echo "$short -"; fi
	done < "$BATS_TEST_TMPDIR/list"
}

# runs PROG: a regex for a test line that runs PROG: by name, by its helper,
# or as "$p" in a loop over all programs.
runs() {
	local any='"\$p"|\$p |\$prog '
	case $1 in
	kq-produce) echo "kq-produce|kqp |bg_produce |$any" ;;
	kq-consume) echo "kq-consume|kqc |member |$any" ;;
	kq-topics) echo "kq-topics|kqt |$any" ;;
	kq-groups) echo "kq-groups|kqg |$any" ;;
	kq-broker) echo "kq-broker|start_broker|spawn_broker |$any" ;;
	esac
}

# has_opt FILE OPT: OPT occurs in FILE as a whole option (--progress does not
# match --no-progress, --tls does not match --tls-ca).
has_opt() {
	grep -qE -- "(^|[^a-zA-Z0-9-])$2([^a-zA-Z0-9-]|\$)" "$1"
}

# has_short FILE -X: as has_opt, or X bundled with other letters (-0Jequv),
# as a SYNOPSIS writes flags without values.
has_short() {
	has_opt "$1" "$2" || grep -qE -- "(^|[^a-zA-Z0-9-])-[a-zA-Z0-9]*${2#-}[a-zA-Z0-9]*([^a-zA-Z0-9-]|\$)" "$1"
}

# doc PROG WHAT: the text of PROG that WHAT names, on stdout.
doc() {
	local page
	page=$(man_page "$1")
	[ -f "$page" ] || fail "no man page $page"
	case $2 in
	help) "$1" --help ;;
	synopsis)
		mandoc -T ascii -O width=500 "$page" | col -b |
			sed -n '/^SYNOPSIS/,/^[A-Z][A-Z ]*$/p' | sed '1d;$d'
		;;
	man) mandoc -T ascii -O width=500 "$page" | col -b ;;
	# The program's branch of the case on the program name.
	bash) sed -n "/^\t$1)/,/^\t;;/p" "$COMP/kq.bash" ;;
	# The options all programs share, and the program's branch.
	zsh) sed -n "1,/^case /p; /^$1)/,/^\t;;/p" "$COMP/_kq" ;;
	# Every other test file as whole commands (continued lines joined),
	# without comment lines: naming an option in a comment tests nothing.
	tests)
		find "$KQ_TOP/tests/bats" -name '*.bats' ! -name 90-docs.bats \
			-exec cat {} + | grep -v '^[[:space:]]*#' | sed -e :a -e '/\\$/N; s/\\\n//; ta'
		;;
	esac
}

# check WHICH WHAT: every WHICH option of every program is in WHAT.
check() {
	local prog opt bad="" d="$BATS_TEST_TMPDIR/doc"
	for prog in $PROGS; do
		opts "$prog" "$1" > "$BATS_TEST_TMPDIR/opts"
		doc "$prog" "$2" > "$d"
		[ -s "$d" ] || fail "$prog: no $2 text to check"
		[ "$2" != tests ] || grep -E -- "$(runs "$prog")" "$d" > "$d.runs" || :
		while read -r opt short; do
			[ "$2" != tests ] && has_opt "$d" "$opt" && continue
			[ "$2" = synopsis ] && [ "$short" = - ] && has_short "$d" "$opt" && continue
			if [ "$2" = tests ]; then
				# It counts on a command that runs the program.
				has_opt "$d.runs" "$opt" && continue
				[ "$short" != - ] && has_opt "$d.runs" "$short" && continue
			fi
			bad="$bad $prog:$opt"
		done < "$BATS_TEST_TMPDIR/opts"
	done
	[ -z "$bad" ] || fail "options missing from $2:$bad"
}

@test "man pages exist and pass mandoc -Tlint" {
	for p in $PROGS; do
		[ -f "$(man_page "$p")" ] || fail "missing $(man_page "$p")"
	done
	[ -f "$MAN/kq.7" ] || fail "missing kq.7"
	run mandoc -Tlint -Wwarning "$MAN"/*.[0-9]
	assert_status 0
}

@test "completion files exist; zsh names every program; bash passes shellcheck" {
	[ -f "$COMP/kq.bash" ] || fail "missing $COMP/kq.bash"
	[ -f "$COMP/_kq" ] || fail "missing $COMP/_kq"
	head -n 1 "$COMP/_kq" | grep -q '^#compdef' || fail "_kq does not start with #compdef"
	for p in $PROGS; do
		head -n 1 "$COMP/_kq" | grep -qw -- "$p" || fail "_kq #compdef lacks $p"
		grep -qE -- "complete .*$p" "$COMP/kq.bash" || fail "kq.bash has no complete for $p"
	done
	bash -n "$COMP/kq.bash" || fail "kq.bash does not parse"
	run shellcheck -s bash "$COMP/kq.bash"
	assert_status 0
}

@test "--list-options lists every option --help shows, and the checks below bite" {
	local prog opt
	for prog in $PROGS; do
		"$prog" --help | grep -E '^[[:space:]]*-' |
			grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u > "$BATS_TEST_TMPDIR/help"
		[ -s "$BATS_TEST_TMPDIR/help" ] || fail "$prog --help shows no options"
		opts "$prog" all > "$BATS_TEST_TMPDIR/table"
		while read -r opt; do
			grep -qE -- "^$opt " "$BATS_TEST_TMPDIR/table" ||
				fail "$prog --help shows $opt, which its table lacks"
		done < "$BATS_TEST_TMPDIR/help"
	done
	# has_opt itself: whole options only.
	printf 'a --no-progress b\n' > "$BATS_TEST_TMPDIR/t"
	! has_opt "$BATS_TEST_TMPDIR/t" --progress || fail "has_opt matched a longer option"
	has_opt "$BATS_TEST_TMPDIR/t" --no-progress || fail "has_opt missed an option"
}

@test "every option is in its program's --help" {
	check shown help
}

@test "every option is in its program's man page SYNOPSIS" {
	check shown synopsis
}

@test "every option, hidden aliases too, is in its program's man page" {
	check all man
}

@test "every option is in completions/kq.bash" {
	check shown bash
}

@test "every option is in completions/_kq" {
	check shown zsh
}

@test "every option is used by at least one test" {
	check shown tests
}
