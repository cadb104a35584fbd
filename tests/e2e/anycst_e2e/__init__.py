"""The one e2e helper package: every tests/e2e test (and bench/*.py) imports
its daemons, peers, ports, waits and labs from here.

    core      free_port, wait_until, cpu_seconds, stop_pid, TmpDir, write_secret, write_api_key,
              tsig_file_args, ApiClient (the one HTTP client for the API), BIN, PFX,
              TOOLS (the test helpers of tools/, built into build/tools-bin)
    pg        ANYCST_DB=pg: a throwaway PostgreSQL, a schema per Primary (pg_database)
    patroni   HaCluster: 3 etcd members + 3 Patroni nodes (PostgreSQL 15, synchronous
              mode) on loopback for the HA test (imported on its own)
    daemons   Primary (anycst-primary + its API), Secondary (anycst-secondary),
              the shared TSIG key KEY_NAME/KEY_SECRET/KEYRING, assert_san_clean
    peers     Knot (knotd as our secondary's primary, or Knot.secondary() of our
              primary), zone comparison (export_set, axfr_set, soa_serial, ...)
    mesh      WireGuard mesh in network namespaces (Mesh)
    edge      anycast lab: namespaces, veths, BIRD, knotd (Lab, AnycastLab)
    quic      anycst-doq-test server/client, NetnsPair with packet loss
    xoq       XoQ helpers: QUIC secondaries, big zones, metrics, served_a
    relays    DelayRelay (UDP delay), Poller
    rollover  the DNSSEC rollover tests' zone and delv loop
    update    the DNS UPDATE group tests' primary + knotd, client threads, serial chain
    slowloris raise_nofile, Trickler (slow clients for the resource-limit tests)
    rrl_load, edge_probe   traffic generators (also run as scripts)

Every process is started by PID and stopped by its PID; namespaces and temp
dirs are removed by whoever made them.  pytest fixtures live in conftest.py.
"""
from .core import *      # noqa: F401,F403
from .daemons import *   # noqa: F401,F403
from .peers import *     # noqa: F401,F403
from .pg import *        # noqa: F401,F403
