#!/bin/sh
# Installs every Debian package anycst builds, tests and benchmarks with.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -eu

PKGS="build-essential pkg-config xxd curl ca-certificates
libsqlite3-dev sqlite3 libpq-dev postgresql-15 libcurl4-gnutls-dev libmicrohttpd-dev libjansson-dev libidn2-dev
libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
libcmocka-dev liburcu-dev clang libclang-rt-14-dev
knot knot-dnsutils knot-dnssecutils bind9 bind9-dnsutils bind9-utils ldnsutils
python3 python3-dnspython python3-pytest python3-pytest-xdist
wireguard-go wireguard-tools nftables iproute2 bird2
nsd pdns-server pdns-backend-sqlite3 pdns-backend-pgsql dnsperf
pebble certbot python3-certbot-dns-rfc2136 lego
prometheus chromium chromium-driver python3-websocket
patroni python3-etcd etcd-server etcd-client"

# `make deb` (scripts/deps.sh deb) needs the packaging tools; `make test` does not.
if [ "${1:-}" = deb ]; then
	PKGS="build-essential debhelper lintian libcurl4-gnutls-dev"
fi
# `make test-systemd` (scripts/try-deb-systemd.sh): a debootstrap root booted
# with systemd-nspawn; not part of `make test`.
if [ "${1:-}" = systemd ]; then
	PKGS="debootstrap systemd-container util-linux"
fi

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "deps: installing$missing"
# Packaged daemons (knotd, nsd, pdns, bird) must not start on install:
# tests and benchmarks start their own copies on loopback.
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$prc" >/dev/null
	$SUDO chmod 755 "$prc"
	made_prc=1
fi
cleanup() {
	if [ "$made_prc" = 1 ]; then
		$SUDO rm -f "$prc"
	fi
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
