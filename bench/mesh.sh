#!/bin/sh
# Propagation across a real WireGuard mesh (network namespaces, wireguard-go):
# from the change's acknowledgement (the API's 204) to all three POPs
# answering the new serial, median and p99 over MESH_CHANGES changes
# (default 200), beside knotd as primary and as the three secondaries on the
# same mesh (NOTIFY + IXFR over TCP); prints the ratio. anycst POPs use the transport the
# API gave them (QUIC when the primary serves it).
# Needs root, wireguard-go, wireguard-tools, iproute2, knotd, bin/ (make all).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/mesh_bench.py "$@"
