"""The mem0ai SDK reads these when it is imported: no telemetry, no writes to ~/.mem0."""

import os
import tempfile

os.environ["MEM0_TELEMETRY"] = "False"
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0-sdk-"))
