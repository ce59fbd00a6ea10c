"""Many downloads in flight over several small connection pools instead of one large one.

httpcore looks over every connection of its pool each time a request starts
or ends, and polls the socket of every idle one; all threads take turns at
the pool's lock to do so. With dozens of downloads in flight, one pool spends
more CPU on that bookkeeping than on HTTP itself (see docs/performance.md,
"Indexing pipeline"). Here the downloads are spread over clients of at most
:data:`CONNECTIONS_PER_CLIENT` connections each.

Each lease is one connection's worth of room in one client, and a client has
exactly as many leases as connections: no request ever queues inside
httpcore's pool, and the number of leases is the number of downloads in
flight. Leases come back last in, first out, so a fetcher used by one thread
at a time keeps using one client and its kept-alive connections.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

import httpx

__all__ = ["CONNECTIONS_PER_CLIENT", "ClientLeases"]

#: Connections in each client: few enough that a pool's bookkeeping stays cheap.
CONNECTIONS_PER_CLIENT = 8


class ClientLeases:
    """``connections`` leases over clients built by ``build(size)``, each of ``size`` connections.

    ``per_client`` caps a client's size; ``None`` builds a single client of
    every connection (for a caller's own transport, which the clients would
    otherwise all share).
    """

    def __init__(
        self,
        build: Callable[[int], httpx.Client],
        connections: int,
        per_client: int | None = CONNECTIONS_PER_CLIENT,
    ) -> None:
        step = per_client or connections
        sizes = [min(step, connections - start) for start in range(0, connections, step)]
        self.clients = [build(size) for size in sizes]
        self._free: queue.LifoQueue[httpx.Client] = queue.LifoQueue()
        for client, size in zip(self.clients, sizes, strict=True):
            for _ in range(size):
                self._free.put(client)

    def take(self, timeout: float) -> httpx.Client | None:
        """A client with a free connection, waiting up to ``timeout`` seconds; ``None`` if none."""
        try:
            return self._free.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def give_back(self, client: httpx.Client) -> None:
        self._free.put(client)

    def close(self) -> None:
        for client in self.clients:
            client.close()
