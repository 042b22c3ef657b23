#!/bin/sh
# The Debian packages kq needs, in one table that both installs and checks.
#   deps.sh [build|test|lint|bench|fuzz]   install what that purpose lacks
#   deps.sh check [PURPOSE]                install nothing; for each missing
#                                          thing print one line naming its
#                                          package, exit 1 if any is missing
# Each purpose includes build.  A row is "PURPOSES PACKAGE PROBE": the package
# counts as present when its probe passes (a command on PATH, an absolute
# path that exists, or py:MODULE importable by /usr/bin/python3, the Python
# Debian's client packages install into; a path may be a glob).  A row per program a test, the
# build, `make lint` or `make bench` runs: a program that is missing on a
# fresh machine must fail here, in one line, and never as a cascade of
# unrelated-looking test failures.
set -e
table() {
	cat <<'EOF'
build	gcc			gcc
build	make			make
build	pkg-config		pkg-config
build	libevent-dev		/usr/include/event2/event.h
build	zlib1g-dev		/usr/include/zlib.h
build	liblz4-dev		/usr/include/lz4.h
build	libzstd-dev		/usr/include/zstd.h
build	libsnappy-dev		/usr/include/snappy-c.h
build	libzookeeper-mt-dev	/usr/include/zookeeper/zookeeper.h
build	libjansson-dev		/usr/include/jansson.h
test	bats			bats
test	kcat			kcat
test,bench	python3		/usr/bin/python3
test	python3-kafka		py:kafka
test	python3-confluent-kafka	py:confluent_kafka
test	golang-go		go
test	golang-github-shopify-sarama-dev	/usr/share/gocode/src/github.com/Shopify/sarama/client.go
test	zookeeper		/usr/share/java/zookeeper.jar
test	python3-kazoo		py:kazoo
test	default-jre-headless	java
test	procps			pkill
test,lint	mandoc		mandoc
test	bsdextrautils		col
test	bsdutils		script
test	diffutils		cmp
test	coreutils		timeout
test	lz4			lz4
test	zstd			zstd
test	iproute2		ss
lint	shellcheck		shellcheck
bench	kcat			kcat
bench	redis-server		redis-server
bench	redis-tools		redis-benchmark
bench	nats-server		nats-server
fuzz	clang-14		clang-14
fuzz	libclang-rt-14-dev	/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a
EOF
}

mode=install
if [ "${1:-}" = check ]; then
	mode=check
	shift
fi
purpose=${1:-build}
case $purpose in
build | test | lint | bench | fuzz) ;;
*) echo "usage: deps.sh [check] build|test|lint|bench|fuzz" >&2; exit 2 ;;
esac

present() {
	case $1 in
	py:*) /usr/bin/python3 -c "import ${1#py:}" 2>/dev/null ;;
	/*)
		# shellcheck disable=SC2086 # a path may hold a glob
		for f in $1; do [ -e "$f" ] && return 0; done
		return 1
		;;
	*) command -v "$1" > /dev/null 2>&1 ;;
	esac
}

missing=""
# Tabs are IFS white space: a run of them is one separator.
tab=$(printf '\t')
while IFS="$tab" read -r purposes pkg probe; do
	case ",$purposes," in
	*,build,* | *,"$purpose",*) ;;
	*) continue ;;
	esac
	present "$probe" && continue
	case " $missing " in *" $pkg "*) continue ;; esac
	missing="$missing $pkg"
	if [ $mode = check ]; then
		echo "missing: ${probe#py:} (install the Debian package $pkg: sh share/deps.sh $purpose)"
	fi
done <<EOF
$(table)
EOF

if [ -z "$missing" ]; then
	exit 0
elif [ $mode = check ]; then
	exit 1
fi
echo "deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2 || true
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
