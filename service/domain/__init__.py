"""Business logic: adding and searching memories, filters, API keys. No HTTP here."""
