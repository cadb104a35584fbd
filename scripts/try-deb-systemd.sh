#!/bin/sh
# scripts/try-deb-systemd.sh [DEB]: the Debian package on a fresh Debian 12
# machine whose PID 1 is systemd, as an operator would try it (issue 17's
# acceptance): a container booted with `systemd-nspawn -b` from a debootstrap
# root, then inside it `apt install ./anycst_*.deb` (its dependencies from
# the Debian registry), `systemctl start anycst-primary anycst-secondary`,
# `anycstc zone import` of a zone file of $ANYCST_SYSTEMD_RECORDS (100000)
# records, `anycstc status` showing the POP serving it, `dig @127.0.0.1`
# answered by the secondary, `man anycstc` rendered.  Every step prints what
# it saw; the first one that fails ends the run (exit 1) with the units' logs.
#
# Needs root, debootstrap and systemd-container (`scripts/deps.sh systemd`).
# The pristine root is cached in $ANYCST_SYSTEMD_CACHE (/var/tmp/anycst-systemd,
# ~330 MB: debootstrap once, `apt-get update` when older than a day) with the
# downloaded .debs; each run boots an overlay of it that is thrown away.
# The container has its own network namespace (loopback only), so port 53 and
# the daemons' ports are its own; apt alone runs in the host's network (its
# process enters every namespace of the container but that one).  The host
# needs no systemd: nspawn runs with --register=no --keep-unit.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEB=${1:-$(ls -t "$REPO"/anycst_*.deb 2>/dev/null | head -1)}
CACHE=${ANYCST_SYSTEMD_CACHE:-/var/tmp/anycst-systemd}
RECORDS=${ANYCST_SYSTEMD_RECORDS:-100000}
MIRROR=${ANYCST_SYSTEMD_MIRROR:-http://deb.debian.org/debian}
T0=$(date +%s)

say() { printf '[%3ds] %s\n' $(($(date +%s) - T0)) "$*"; }
die() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mounts, systemd-nspawn)"
[ -n "$DEB" ] && [ -f "$DEB" ] || die "no anycst_*.deb: run make deb, or name the package"
for t in debootstrap systemd-nspawn nsenter flock; do
	command -v $t >/dev/null || die "$t missing: sh scripts/deps.sh systemd"
done
mkdir -p "$CACHE/apt-archives/partial"
exec 9>"$CACHE/lock"
flock -w 1800 9 || die "$CACHE/lock held by another run"

# ---- the pristine root (cached) ----------------------------------------------
BASE=$CACHE/base
if [ ! -x "$BASE/lib/systemd/systemd" ]; then
	say "debootstrap bookworm into $BASE (first run only, a few minutes)"
	rm -rf "$BASE.tmp"
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,man-db,bind9-dnsutils,iproute2,ca-certificates \
		bookworm "$BASE.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log"; die "debootstrap (log: $CACHE/debootstrap.log)"; }
	printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
		"$MIRROR" "$MIRROR" "$MIRROR" >"$BASE.tmp/etc/apt/sources.list"
	rm -f "$BASE.tmp/var/lib/apt/lists/stamp"
	mv "$BASE.tmp" "$BASE"
fi
if [ -z "$(find "$BASE/var/lib/apt/lists/stamp" -mmin -1440 2>/dev/null)" ]; then
	say "apt-get update in the cached root (lists older than a day)"
	cp -L /etc/resolv.conf "$BASE/etc/resolv.conf"
	systemd-nspawn -q -D "$BASE" --register=no --keep-unit -E DEBIAN_FRONTEND=noninteractive \
		apt-get update -qq || die "apt-get update in $BASE"
	touch "$BASE/var/lib/apt/lists/stamp"
fi

# ---- this run: an overlay of it, booted ----------------------------------------
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
ROOT=$RUN/root
NSPID=
cleanup() {
	rc=$?
	if [ -n "$NSPID" ] && kill -0 "$NSPID" 2>/dev/null; then
		kill -TERM "$NSPID" 2>/dev/null || true     # nspawn: the container powers off
		i=0
		while kill -0 "$NSPID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
		kill -KILL "$NSPID" 2>/dev/null || true
		wait "$NSPID" 2>/dev/null || true
	fi
	if [ $rc != 0 ] && [ -f "$RUN/console.log" ]; then
		echo "---- container console (last 30 lines)"
		tail -30 "$RUN/console.log"
	fi
	mountpoint -q "$ROOT" && umount "$ROOT"
	rm -rf "$RUN"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$RUN/upper" "$RUN/work" "$ROOT"
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" "$ROOT" ||
	die "overlay mount on $ROOT"
rm -f "$ROOT/etc/resolv.conf"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
echo anycst-try >"$ROOT/etc/hostname"
cp "$DEB" "$ROOT/root/"
DEBNAME=$(basename "$DEB")
say "zone file: $RECORDS A records + SOA, NS, ns1 A"
awk -v n="$RECORDS" 'BEGIN {
	print "$ORIGIN example.com.\n$TTL 300"
	print "@ IN SOA ns1 hostmaster 2026010101 3600 600 864000 300\n@ NS ns1\nns1 A 192.0.2.1"
	for (i = 0; i < n; i++)
		printf "host%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
}' >"$ROOT/root/example.com.zone"

say "boot: systemd-nspawn -b (own network namespace) on an overlay of $BASE"
systemd-nspawn -q -D "$ROOT" -M "anycst-try-$$" --register=no --keep-unit --private-network \
	--bind="$CACHE/apt-archives:/var/cache/apt/archives" -b >"$RUN/console.log" 2>&1 </dev/null &
NSPID=$!
LEADER=
i=0
while [ -z "$LEADER" ] && [ $i -lt 100 ]; do
	for c in $(pgrep -P "$NSPID" 2>/dev/null); do
		[ "$(cat /proc/$c/comm 2>/dev/null)" = systemd ] && LEADER=$c
	done
	kill -0 "$NSPID" 2>/dev/null || die "systemd-nspawn exited"
	[ -n "$LEADER" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$LEADER" ] || die "no systemd process under systemd-nspawn (pid $NSPID)"
ENV="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb"
# in the container: every namespace; hostnet: all but the network (apt)
ct() { nsenter -t "$LEADER" -a $ENV "$@"; }
hostnet() { nsenter -t "$LEADER" -m -u -i -p -C $ENV "$@"; }
# `in` with a deadline (seconds) on the command
inw() { t=$1; shift; ct timeout "$t" "$@"; }

state=
i=0
while [ $i -lt 120 ]; do
	state=$(inw 5 systemctl is-system-running 2>/dev/null || true)
	case "$state" in running | degraded) break ;; esac
	sleep 0.5
	i=$((i + 1))
done
say "PID 1 in the container: $(ct cat /proc/1/comm), systemd $(ct systemctl --version | head -1 | cut -d' ' -f2), is-system-running: $state"
case "$state" in running | degraded) ;; *) die "the container's systemd did not come up" ;; esac
[ "$state" = running ] || ct systemctl --failed --no-pager --plain

# ---- apt install ./anycst_*.deb ---------------------------------------------------
say "apt install ./$DEBNAME (dependencies from $MIRROR)"
hostnet sh -c "cd /root && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
	--no-install-recommends ./$DEBNAME" >"$RUN/apt.log" 2>&1 ||
	{ tail -30 "$RUN/apt.log"; die "apt install"; }
grep -E '^(Setting up|The following NEW)|^  ' "$RUN/apt.log" | sed 's/^/    /' | head -20
say "installed: $(ct dpkg-query -W -f='${Package} ${Version} ${Status}' anycst)"
ct systemctl cat anycst-primary.service >/dev/null || die "systemd does not know anycst-primary.service"

# ---- both units, as installed --------------------------------------------------------
say "systemctl start anycst-primary anycst-secondary (the sample configs as installed)"
inw 60 systemctl start anycst-primary anycst-secondary || true
sleep 1
for u in anycst-primary anycst-secondary; do
	st=$(ct systemctl is-active $u || true)
	say "$u: $st ($(ct systemctl show -P User,MainPID,StateDirectory $u | tr '\n' ' '))"
	[ "$st" = active ] || { ct journalctl -u $u --no-pager | tail -20; die "$u not active"; }
done
i=0
until inw 10 anycstc zone list >/dev/null 2>&1; do
	[ $i -lt 100 ] || { ct journalctl -u anycst-primary --no-pager | tail -20; die "the API does not answer anycstc"; }
	sleep 0.2
	i=$((i + 1))
done
say "anycstc reaches the API with /etc/anycst/anycstc.conf: $(ct ls -l /var/lib/anycst/api.key | cut -d' ' -f1,3,4)"
# the secondary of this machine gets NOTIFY on loopback (a POP's mesh address
# would need the WireGuard mesh): a NOTIFY target is applied by a reload
printf '\n# try-deb-systemd: the local secondary\nnotify = 127.0.0.1:53\n' >>"$ROOT/etc/anycst/primary.conf"
inw 30 systemctl reload anycst-primary || die "systemctl reload anycst-primary"
say "systemctl reload anycst-primary: $(ct systemctl is-active anycst-primary), log: $(ct journalctl -u anycst-primary --no-pager -o cat | grep -i reload | tail -1)"

# ---- the POP ------------------------------------------------------------------------
# As on a primary's own machine (README "Running it"), with anycstc alone: a
# TSIG key allowed to transfer the catalog (key allow --catalog) and the zone
# (zone import --allow-key), the secondary on loopback.  A registered
# POP's key (anycstc pop add) transfers only from its WireGuard mesh address.
inw 30 anycstc key add tsig pop-local. >"$ROOT/etc/anycst/pop.tsig" || die "anycstc key add tsig"
chmod 600 "$ROOT/etc/anycst/pop.tsig"
say "anycstc key add tsig pop-local.: $(cut -d: -f1,2 "$ROOT/etc/anycst/pop.tsig") in /etc/anycst/pop.tsig (0600, the unit's LoadCredential)"
inw 30 anycstc key allow pop-local. --catalog >"$RUN/allow.txt" 2>&1 ||
	{ cat "$RUN/allow.txt"; die "anycstc key allow pop-local. --catalog"; }
say "anycstc key allow pop-local. --catalog: $(cat "$RUN/allow.txt")"
printf '\n# try-deb-systemd\ntsig-file = /run/credentials/anycst-secondary.service/tsig\nidentity = local\n' \
	>>"$ROOT/etc/anycst/secondary.conf"
say "systemctl restart anycst-secondary (its credential is read at start)"
inw 60 systemctl restart anycst-secondary || true
sleep 1
st=$(ct systemctl is-active anycst-secondary || true)
say "anycst-secondary: $st ($(ct systemctl show -P User,MainPID anycst-secondary | tr '\n' ' '))"
[ "$st" = active ] || { ct journalctl -u anycst-secondary --no-pager | tail -20; die "anycst-secondary not active"; }
say "listening: $(ct ss -Hlnptu | awk '{print $1, $5, $7}' | sed 's/users:((//; s/,pid=[0-9]*,fd=[0-9]*//g; s/))//' | sort -u | tr '\n' ';')"

# ---- the zone ------------------------------------------------------------------------
say "anycstc zone import example.com /root/example.com.zone --allow-key pop-local."
inw 600 anycstc zone import example.com /root/example.com.zone --allow-key pop-local. >"$RUN/import.txt" 2>&1 ||
	{ cat "$RUN/import.txt"; die "anycstc zone import"; }
say "    $(cat "$RUN/import.txt")"
i=0
while :; do
	inw 30 anycstc status example.com >"$RUN/status.txt" 2>&1 || true
	awk '$1 == "example.com." && $3 == "127.0.0.1" && $5 == "0" && $7 == "ok" { f = 1 } END { exit !f }' \
		"$RUN/status.txt" && break
	[ $i -lt 120 ] || { cat "$RUN/status.txt"; ct journalctl -u anycst-primary -u anycst-secondary --no-pager | tail -30; die "anycstc status never showed the POP serving example.com."; }
	sleep 0.5
	i=$((i + 1))
done
say "anycstc status example.com:"
sed 's/^/    /' "$RUN/status.txt"
last=$((RECORDS - 1))
want=$(awk -v i="$last" 'BEGIN { printf "10.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }')
got=$(inw 10 dig +short +norec @127.0.0.1 "host$last.example.com" A || true)
say "dig @127.0.0.1 host$last.example.com A: ${got:-no answer} (zone file: $want)"
[ "$got" = "$want" ] || die "the secondary's answer"
soa=$(inw 10 dig +short +norec @127.0.0.1 example.com SOA || true)
say "dig @127.0.0.1 example.com SOA: $soa"

# ---- the man page ------------------------------------------------------------------------
ct sh -c 'MANPAGER=cat MANWIDTH=80 man anycstc' >"$RUN/man.txt" 2>&1 || { head "$RUN/man.txt"; die "man anycstc"; }
say "man anycstc: $(wc -l <"$RUN/man.txt") lines, $(grep -m1 -A1 '^NAME' "$RUN/man.txt" | tail -1 | sed 's/^ *//')"
grep -q 'anycstc' "$RUN/man.txt" || die "man anycstc does not name anycstc"

# ---- what systemd made of the units --------------------------------------------------------
for u in anycst-primary anycst-secondary; do
	say "$u: $(ct systemd-analyze security --no-pager "$u" 2>/dev/null | tail -1 | sed 's/^-> //')"
done
ct journalctl -u anycst-primary -u anycst-secondary --no-pager -o cat -p warning >"$RUN/warn.txt"
say "journalctl -p warning -u anycst-primary -u anycst-secondary: $(wc -l <"$RUN/warn.txt") lines"
sed 's/^/    /' "$RUN/warn.txt" | tail -5
# the secondary warns that it accepts any QUIC key (insecure = yes): that line
# must carry the warning priority, not info
grep -q 'server key not verified (insecure)' "$RUN/warn.txt" ||
	die "the secondary's warning is not at priority warning in the journal"
say "OK: package installed, both units active under systemd, $RECORDS records imported and served"
