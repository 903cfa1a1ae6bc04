"""Free loopback TCP ports for servers started afterwards: `python3 .ci/ports.py N` prints N of
them on one line; .ci/topology.py imports `free_ports`.

A port the kernel picks for `bind(port 0)` comes from net.ipv4.ip_local_port_range, the range it
also draws every outgoing connection's local port from. Between noting such a port and the server
binding it, any process's outgoing connection (a replica connecting to its database, a test's
client) may take it, and the server exits with "Address already in use". Ports below that range
are never handed out implicitly, so only an explicit bind can take one: these are drawn at random
from there (concurrent runs seldom meet) and each is checked free by binding it.
"""

import random
import socket
import sys

LOOPBACK = "127.0.0.1"
LOWEST = 10000  # below: well-known services' ports


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_ports(n):
    """n distinct ports nothing is bound to, outside the ephemeral range when there is room."""
    low, high = ephemeral_range()
    if low - LOWEST >= 1000:
        candidates = range(LOWEST, low)
    elif 65535 - high >= 1000:
        candidates = range(high + 1, 65536)
    else:  # the whole range is ephemeral: the kernel's choice is as good as any
        candidates = None
    socks, ports = [], []
    try:
        tries = 0
        while len(ports) < n:
            tries += 1
            if tries > 100 * n:
                raise OSError(f"no {n} free ports found in {100 * n} tries")
            s = socket.socket()
            socks.append(s)
            try:
                s.bind((LOOPBACK, random.choice(candidates) if candidates else 0))
            except OSError:  # taken
                continue
            ports.append(s.getsockname()[1])
        return ports
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    print(*free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
