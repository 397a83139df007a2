"""Pod addresses for the process kubelet: one per pod, reused last, never one whose port is taken."""

from __future__ import annotations

import ipaddress
import socket

from tests.support.podnet import PodNetwork, loopback_block, routed_candidates


def test_each_pod_gets_its_own_address_and_a_released_one_is_reused_last():
    network = PodNetwork(ipaddress.ip_network("127.77.0.0/16"), routed=False)
    first, second = network.allocate(), network.allocate()
    assert first != second and first.startswith("127.77.")
    network.release(first)
    assert network.allocate() != first


def test_an_address_whose_port_is_taken_is_skipped():
    network = PodNetwork(ipaddress.ip_network("127.78.0.0/16"), routed=False)
    with socket.socket() as taken:
        taken.bind(("127.78.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert network.allocate([port]) == "127.78.0.2"


def test_the_blocks_stay_clear_of_127_0_and_inside_the_benchmarking_range():
    assert all(loopback_block(pid).network_address.packed[1] >= 16 for pid in range(0, 1000, 7))
    assert all(block.subnet_of(ipaddress.ip_network("198.18.0.0/15")) for block in routed_candidates())
