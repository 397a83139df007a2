"""Pod IPs for the process kubelet: each pod gets an address of its own, on which its servers
listen, so that two pods serving the same containerPort do not collide and a client reaches each
pod at its `status.podIP`, as on a flat pod network.

No pod has a network namespace here; the stand-in is an address per pod that the container
processes bind (`MODELYARD_SERVE_HOST`). Which range those addresses come from matters:

- preferred, when the kubelet may change routes (root, as in this repository's machines): a
  /20 of 198.18.0.0/15 (RFC 2544's benchmarking range, used by no real network here) made local
  with one `ip route add local CIDR dev lo` (the kernel's AnyIP: every address in it is this
  machine's, with no address added per pod); removed again when the kubelet stops. The API
  server accepts these addresses everywhere, EndpointSlices included;
- otherwise 127.X.0.0/16 (Linux routes all of 127.0.0.0/8 to lo): pods still get addresses of
  their own, but the EndpointSlice controller cannot publish them (the API server refuses
  loopback endpoint addresses), so Services stay without endpoints.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import subprocess
import threading
from collections import deque
from typing import Iterable

log = logging.getLogger("kubelet")
ROUTED = ipaddress.ip_network("198.18.0.0/15")
ROUTED_PREFIX = 20


def routed_candidates() -> list[ipaddress.IPv4Network]:
    """The /20 blocks of 198.18.0.0/15 a kubelet may claim, in order."""
    return list(ROUTED.subnets(new_prefix=ROUTED_PREFIX))


def loopback_block(pid: int) -> ipaddress.IPv4Network:
    """A 127.X.0.0/16 per kubelet process, away from 127.0.0.0/16 (127.0.0.1, 127.0.1.1)."""
    return ipaddress.ip_network(f"127.{16 + pid % 224}.0.0/16")


def local_routes() -> set[ipaddress.IPv4Network]:
    done = subprocess.run(["ip", "-4", "route", "show", "table", "local"], capture_output=True, text=True)
    found = set()
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == "local":
            try:
                found.add(ipaddress.ip_network(words[1]))
            except ValueError:
                continue
    return found


def port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError as error:
            return error.errno != errno.EADDRINUSE
    return True


class PodNetwork:
    """Hands out one address per pod from this kubelet's block and takes it back.

    A released address goes to the back of the queue (a Service's EndpointSlice may still name a
    deleted pod for a moment); an address where one of the pod's ports is already taken (by
    anything on this machine) is skipped.
    """

    def __init__(self, block: ipaddress.IPv4Network, routed: bool) -> None:
        self.block, self.routed = block, routed
        self.lock = threading.Lock()
        hosts = block.hosts()
        if block.prefixlen <= 16 and block.network_address.packed[0] == 127:
            hosts = (h for h in hosts if h.packed[3] not in (0, 255))
        self.free: deque[str] = deque(str(h) for h in hosts)
        self.used: set[str] = set()

    @classmethod
    def claim(cls) -> PodNetwork:
        """A routed block when routes can be changed here, otherwise a loopback block."""
        try:
            taken = local_routes()
            for block in routed_candidates():
                if any(block.overlaps(route) for route in taken):
                    continue
                done = subprocess.run(["ip", "route", "add", "local", str(block), "dev", "lo"],
                                      capture_output=True, text=True)
                if done.returncode == 0:
                    log.info("pod network %s (a local route on lo)", block)
                    return cls(block, routed=True)
                if "File exists" not in done.stderr:
                    log.warning("cannot route a pod network (%s); pod IPs come from loopback, which "
                                "EndpointSlices do not accept", done.stderr.strip())
                    break
        except FileNotFoundError:
            log.warning("no `ip` command; pod IPs come from loopback, which EndpointSlices do not accept")
        block = loopback_block(os.getpid())
        log.info("pod network %s (loopback)", block)
        return cls(block, routed=False)

    def allocate(self, ports: Iterable[int] = ()) -> str:
        ports = list(ports)
        with self.lock:
            for _ in range(len(self.free)):
                address = self.free.popleft()
                if all(port_free(address, p) for p in ports):
                    self.used.add(address)
                    return address
                self.free.append(address)
        raise RuntimeError(f"no free pod address left in {self.block}")

    def release(self, address: str) -> None:
        with self.lock:
            if address in self.used:
                self.used.discard(address)
                self.free.append(address)

    def close(self) -> None:
        if self.routed:
            subprocess.run(["ip", "route", "del", "local", str(self.block), "dev", "lo"], capture_output=True)
