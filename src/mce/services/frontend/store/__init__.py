"""The frontend's own data: server-side sessions and failed sign-in counts, with their ports and SQL adapters."""
