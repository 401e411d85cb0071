"""Use cases. They take the store, the directory and a clock; they enqueue outbox rows in
the same transaction as the change; they never import an adapter."""
