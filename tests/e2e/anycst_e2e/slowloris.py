"""Slow clients for the resource-limit tests: many connections from one source
address, each trickling one byte of a request that never completes."""
import resource
import select
import socket
import threading

__all__ = ["raise_nofile", "Trickler"]


def raise_nofile(want=4096):
    """Raises this process's soft RLIMIT_NOFILE (600 sockets need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Trickler(threading.Thread):
    """`n` connections from `src` to `port`, each sending one byte of `payload`
    every `step` s, round and round; with `hold_last` the last byte is never sent,
    so a framed message stays incomplete.  A connection the server closes is
    opened again (`opened` counts them all, `peak_alive` the most open at once)."""

    def __init__(self, port, n, payload, src="127.0.0.2", step=0.5, hold_last=False):
        super().__init__(daemon=True)
        self.port, self.n, self.src, self.step = port, n, src, step
        self.payload = payload[:-1] if hold_last else payload
        self.stop = threading.Event()
        self.opened = 0
        self.peak_alive = 0

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.src, 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return None
        self.opened += 1
        return [s, 0]

    def run(self):
        conns = []
        try:
            while not self.stop.is_set():
                while len(conns) < self.n and not self.stop.is_set():
                    c = self._open()
                    if c is None:
                        break
                    conns.append(c)
                alive = []
                for c in conns:
                    s, off = c
                    try:
                        s.send(self.payload[off % len(self.payload):][:1])
                        c[1] = off + 1
                        # drain anything the server says (a close shows up as b"")
                        r, _, _ = select.select([s], [], [], 0)
                        if r and not s.recv(4096):
                            raise ConnectionResetError
                        alive.append(c)
                    except (BlockingIOError, InterruptedError):
                        alive.append(c)   # still connecting
                    except OSError:
                        s.close()
                self.peak_alive = max(self.peak_alive, len(alive))
                conns = alive
                self.stop.wait(self.step)
        finally:
            for s, _ in conns:
                s.close()
