#!/usr/bin/env bats
# Drift checks: every long option a program's --help lists appears in its
# man page SYNOPSIS, in its man page, and in both completion files
# (STYLE.md section 9.5: help, man pages and completions must not drift).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	:
}

MAN="$KQ_TOP/man"
COMP="$KQ_TOP/completions"

man_page() {
	case $1 in
	kq-broker) echo "$MAN/kq-broker.8" ;;
	*) echo "$MAN/$1.1" ;;
	esac
}

# help_opts PROG: the long options on option lines of PROG --help (lines
# that start with a dash after indentation, so example pipelines that name
# other programs' options do not count).
help_opts() {
	"$1" --help | grep -E '^[[:space:]]*-' |
		grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

# has_opt FILE OPT: OPT occurs in FILE as a whole option (--progress does not
# match --no-progress, --tls does not match --tls-ca).
has_opt() {
	grep -qE -- "(^|[^a-zA-Z0-9-])$2([^a-zA-Z0-9-]|\$)" "$1"
}

# check PROG WHAT: all of PROG's help options are in WHAT.
check() {
	local prog=$1 what=$2 page f missing="" opt
	page=$(man_page "$prog")
	[ -f "$page" ] || fail "no man page $page"
	help_opts "$prog" > "$BATS_TEST_TMPDIR/opts"
	[ -s "$BATS_TEST_TMPDIR/opts" ] || fail "$prog --help lists no long options"
	case $what in
	synopsis)
		mandoc -T ascii -O width=500 "$page" | col -b |
			sed -n '/^SYNOPSIS/,/^[A-Z][A-Z ]*$/p' | sed '1d;$d' > "$BATS_TEST_TMPDIR/doc"
		[ -s "$BATS_TEST_TMPDIR/doc" ] || fail "$page has no SYNOPSIS section"
		;;
	man)
		mandoc -T ascii -O width=500 "$page" | col -b > "$BATS_TEST_TMPDIR/doc"
		;;
	bash) cp "$COMP/kq.bash" "$BATS_TEST_TMPDIR/doc" ;;
	zsh) cp "$COMP/_kq" "$BATS_TEST_TMPDIR/doc" ;;
	esac
	while read -r opt; do
		has_opt "$BATS_TEST_TMPDIR/doc" "$opt" || missing="$missing $opt"
	done < "$BATS_TEST_TMPDIR/opts"
	[ -z "$missing" ] || fail "$prog: options missing from $what:$missing"
}

@test "man pages exist and pass mandoc -Tlint" {
	for p in kq-produce kq-consume kq-topics kq-groups kq-broker; do
		[ -f "$(man_page "$p")" ] || fail "missing $(man_page "$p")"
	done
	[ -f "$MAN/kq.7" ] || fail "missing kq.7"
	run mandoc -Tlint -Wwarning "$MAN"/*.[0-9]
	assert_status 0
}

@test "completion files exist; zsh names every program; bash passes shellcheck" {
	[ -f "$COMP/kq.bash" ] && [ -f "$COMP/_kq" ]
	head -n 1 "$COMP/_kq" | grep -q '^#compdef'
	for p in kq-produce kq-consume kq-topics kq-groups kq-broker; do
		head -n 1 "$COMP/_kq" | grep -qw -- "$p" || fail "_kq #compdef lacks $p"
		grep -qE -- "complete .*$p" "$COMP/kq.bash" || fail "kq.bash has no complete for $p"
	done
	bash -n "$COMP/kq.bash"
	if have shellcheck; then
		run shellcheck -s bash "$COMP/kq.bash"
		assert_status 0
	fi
}

@test "kq-produce: every --help long option is in the man SYNOPSIS" {
	check kq-produce synopsis
}

@test "kq-produce: every --help long option is in the man page" {
	check kq-produce man
}

@test "kq-produce: every --help long option is in completions/kq.bash" {
	check kq-produce bash
}

@test "kq-produce: every --help long option is in completions/_kq" {
	check kq-produce zsh
}

@test "kq-consume: every --help long option is in the man SYNOPSIS" {
	check kq-consume synopsis
}

@test "kq-consume: every --help long option is in the man page" {
	check kq-consume man
}

@test "kq-consume: every --help long option is in completions/kq.bash" {
	check kq-consume bash
}

@test "kq-consume: every --help long option is in completions/_kq" {
	check kq-consume zsh
}

@test "kq-topics: every --help long option is in the man SYNOPSIS" {
	check kq-topics synopsis
}

@test "kq-topics: every --help long option is in the man page" {
	check kq-topics man
}

@test "kq-topics: every --help long option is in completions/kq.bash" {
	check kq-topics bash
}

@test "kq-topics: every --help long option is in completions/_kq" {
	check kq-topics zsh
}

@test "kq-groups: every --help long option is in the man SYNOPSIS" {
	check kq-groups synopsis
}

@test "kq-groups: every --help long option is in the man page" {
	check kq-groups man
}

@test "kq-groups: every --help long option is in completions/kq.bash" {
	check kq-groups bash
}

@test "kq-groups: every --help long option is in completions/_kq" {
	check kq-groups zsh
}

@test "kq-broker: every --help long option is in the man SYNOPSIS" {
	check kq-broker synopsis
}

@test "kq-broker: every --help long option is in the man page" {
	check kq-broker man
}

@test "kq-broker: every --help long option is in completions/kq.bash" {
	check kq-broker bash
}

@test "kq-broker: every --help long option is in completions/_kq" {
	check kq-broker zsh
}
