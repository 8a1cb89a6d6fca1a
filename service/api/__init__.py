"""HTTP: controllers parse and validate, call a domain service, and shape the response."""
