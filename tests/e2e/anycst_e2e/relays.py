"""A delaying UDP relay on loopback: a wide-area link for tests on a kernel
without netem; and Poller / create_five, shared by the health tests.

    relay = DelayRelay(("127.0.0.1", primary_quic_port), delay=0.05).start()
    ... point the secondary at 127.0.0.1:relay.port ...
    relay.stop()

Every datagram is held `delay` seconds in each direction (so the round trip
gains 2 x delay).  Each client address gets its own upstream socket, so the
target sees one peer per client, as it would behind a NAT.  One thread
receives, one sends at the due times; both stop within 0.2 s of stop().
"""
import heapq
import select
import socket
import threading
import time


class DelayRelay:
    def __init__(self, target, delay=0.05, host="127.0.0.1"):
        self.target = target
        self.delay = delay
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # clients talk here
        self.down.bind((host, 0))
        self.port = self.down.getsockname()[1]
        self.up = {}          # client addr -> upstream socket
        self.back = {}        # upstream socket fileno -> client addr
        self.queue = []       # (due, seq, sock, data, addr)
        self.seq = 0
        self.cv = threading.Condition()
        self.stopping = False
        self.threads = []
        self.forwarded = 0

    def start(self):
        for fn in (self._recv_loop, self._send_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _push(self, sock, data, addr):
        with self.cv:
            self.seq += 1
            heapq.heappush(self.queue, (time.monotonic() + self.delay, self.seq, sock, data, addr))
            self.cv.notify()

    def _recv_loop(self):
        while not self.stopping:
            socks = [self.down] + list(self.up.values())
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                try:
                    data, addr = s.recvfrom(65535)
                except OSError:
                    continue
                if s is self.down:
                    u = self.up.get(addr)
                    if u is None:
                        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        u.bind(("127.0.0.1", 0))
                        self.up[addr] = u
                        self.back[u.fileno()] = addr
                    self._push(u, data, self.target)
                else:
                    self._push(self.down, data, self.back[s.fileno()])

    def _send_loop(self):
        while True:
            with self.cv:
                while not self.stopping and \
                        (not self.queue or self.queue[0][0] > time.monotonic()):
                    wait = 0.1 if not self.queue else max(0.0, self.queue[0][0] - time.monotonic())
                    self.cv.wait(min(wait, 0.1))
                if self.stopping:
                    return
                _, _, sock, data, addr = heapq.heappop(self.queue)
            try:
                sock.sendto(data, addr)
                self.forwarded += 1
            except OSError:
                pass

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        for t in self.threads:
            t.join(2)
        for s in list(self.up.values()) + [self.down]:
            s.close()


class Poller:
    """Calls fetch() every `period` s on a thread; keeps (time, status, body)."""

    def __init__(self, fetch, period=0.05):
        self.fetch = fetch
        self.period = period
        self.samples = []
        self.stopping = False
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping:
            t = time.monotonic()
            try:
                st, body = self.fetch()
            except Exception as e:   # noqa: BLE001 - a failed poll is a sample too
                st, body = None, repr(e)
            self.samples.append((t, st, body))
            time.sleep(max(0.0, self.period - (time.monotonic() - t)))

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.t.join(5)

    def bad(self):
        return [s for s in self.samples if s[1] != 200]


def create_five(create, answered, gap=1.0, bound=1.0):
    """Creates zone0..4 one per `gap` s; returns each zone's time to its first answer."""
    took = []
    t_next = time.monotonic()
    for i in range(5):
        name = "new%d.example." % i
        time.sleep(max(0.0, t_next - time.monotonic()))
        t0 = time.monotonic()
        t_next = t0 + gap
        create(name)
        dt = None
        while time.monotonic() - t0 < bound + 2.0:
            if answered(name):
                dt = time.monotonic() - t0
                break
            time.sleep(0.01)
        took.append((name, dt))
    return took
