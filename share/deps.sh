#!/bin/sh
# Install the Debian packages kq needs, only those missing.
#   deps.sh build   compiler and libraries
#   deps.sh test    plus what the tests run (bats, kcat, Python clients, ZooKeeper)
#   deps.sh bench   plus the peers of `make bench` (Redis, NATS)
set -e
build="gcc make pkg-config libevent-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libzookeeper-mt-dev"
test="bats kcat python3-kafka python3-confluent-kafka zookeeper procps"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $test redis-server redis-tools nats-server" ;;
*) echo "usage: deps.sh build|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2 || true
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
