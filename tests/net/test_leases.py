"""ClientLeases: downloads in flight spread over small connection pools."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from img2img.net.leases import ClientLeases


def recording(sizes: list[int]) -> Callable[[int], httpx.Client]:
    """A client builder that notes the size of each client it builds."""

    def build(connections: int) -> httpx.Client:
        sizes.append(connections)
        return httpx.Client(limits=httpx.Limits(max_connections=connections))

    return build


def test_connections_are_split_into_clients_of_at_most_eight() -> None:
    sizes: list[int] = []
    leases = ClientLeases(recording(sizes), 20)
    assert sizes == [8, 8, 4]
    taken = [leases.take(timeout=0) for _ in range(20)]
    assert leases.take(timeout=0) is None  # one lease per connection, no more
    assert [sum(lease is client for lease in taken) for client in leases.clients] == sizes
    leases.close()
    assert all(client.is_closed for client in leases.clients)


def test_a_callers_own_transport_gets_one_client_of_every_connection() -> None:
    sizes: list[int] = []
    ClientLeases(recording(sizes), 20, per_client=None).close()
    assert sizes == [20]


def test_the_lease_given_back_last_is_taken_first() -> None:
    leases = ClientLeases(recording([]), 16)
    first = leases.take(timeout=0)
    others = [leases.take(timeout=0) for _ in range(9)]  # the ninth from the other client
    assert first is not None
    assert any(lease is not first for lease in others)
    for lease in others:
        assert lease is not None
        leases.give_back(lease)
    leases.give_back(first)
    assert leases.take(timeout=0) is first
    leases.close()
