"""Adapters to things outside our code: the embedding model and the embedded Postgres."""
