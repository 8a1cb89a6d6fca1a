"""Decision quality: labelled reconciliation cases run through the service against any
OpenAI-compatible model (``python -m benchmarks.decisions``), and an oracle that answers the
labels exactly, to check the harness itself."""
