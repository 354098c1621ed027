"""asyncio transport: server, client, TLS, limits and timeouts."""
