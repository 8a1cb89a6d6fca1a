"""memory-service: a standalone memory service for LLM applications."""

__version__ = "0.1.0"
