"""XoQ under packet loss: server and client in two network namespaces joined
by veth, nftables dropping a random 5% / 20% of packets in each direction.
A 10 MB multi-message answer (200 messages of 50,000 bytes, every byte
checked by the client) must complete and be equal."""
import pytest

from anycst_e2e import quic as qu

pytestmark = pytest.mark.skipif(not qu.netns_possible(),
                                reason="needs root, ip netns and nftables")


@pytest.fixture
def pair():
    p = qu.NetnsPair()
    yield p
    p.close()


@pytest.mark.parametrize("loss", [0, 5, 20])
def test_quic_10mb_under_loss(pair, loss):
    pair.set_loss(loss)
    srv = qu.Server(listen="%s:8853" % pair.addr_a, ns=pair.a)
    try:
        ok, vals, line = qu.get("%s:%d" % (pair.addr_a, srv.port), "--pin", srv.pin,
                                "-n", "200", "-s", "50000", "--timeout", "150000", ns=pair.b)
        assert ok, line
        assert vals["messages"] == "200"
        assert vals["bytes"] == "10000000"
        assert vals["connections"] == "1"
        assert srv.alive()
    finally:
        stats = srv.stop()
    assert stats["streams"] == 1
    if loss >= 5:
        # loss is real and seen by QUIC's recovery (packets declared lost)
        assert stats["pkts_lost"] > 0, stats


def test_quic_parallel_streams_under_loss(pair):
    pair.set_loss(5)
    srv = qu.Server(listen="%s:8853" % pair.addr_a, ns=pair.a)
    try:
        ok, vals, line = qu.get("%s:%d" % (pair.addr_a, srv.port), "--pin", srv.pin,
                                "-n", "30", "-s", "4000", "--parallel", "20",
                                "--timeout", "120000", ns=pair.b)
        assert ok, line
        assert vals["messages"] == "600"
        assert vals["connections"] == "1"
    finally:
        stats = srv.stop()
    assert stats["conns_accepted"] == 1
    assert stats["streams"] == 20
