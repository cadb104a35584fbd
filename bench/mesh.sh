#!/bin/sh
# Propagation across a real WireGuard mesh (network namespaces, wireguard-go):
# from the change's acknowledgement (anycst: the API's 204; knotd: the return
# of `knotc zone-commit`) to all three POPs answering the new serial, median,
# p95 and p99 over MESH_CHANGES changes (default 200) MESH_GAP_MS apart
# (default 300) to a zone of MESH_FILL names (default 100,000), beside knotd
# as primary and as the three secondaries on the same mesh (NOTIFY + IXFR
# over TCP); prints the ratios.  anycst POPs use the transport the API gave
# them (QUIC when the primary serves it), then TCP.  MESH_V6=1: the mesh over
# IPv6 only (fd00:53::/64).
# Needs root, wireguard-go, wireguard-tools, iproute2, knotd + knotc, bin/ (make all).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/mesh_bench.py "$@"
