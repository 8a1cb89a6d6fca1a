"""The two ways a sentence-transformers model is run: onnxruntime (default) or torch.

ONNX Runtime runs all-MiniLM-L6-v2 on a small CPU several times faster than torch (figures:
docs/benchmarks.md), at cosine >= 0.9999 to torch's vectors. The usual
route to it (``sentence-transformers[onnx]``) pulls ``optimum``, which downgrades
sentence-transformers and transformers; instead the model is exported once with torch's own
exporter, cached on disk, and run with ``onnxruntime`` and the model's fast tokenizer.

``onnx-int8`` quantises that export's weights to int8 (onnxruntime's dynamic quantisation,
also cached): faster again on CPUs with int8 instructions, at cosine >= 0.97 to the float
vectors (weights quantised per channel; per tensor loses much more on long inputs).
Activations are quantised per batch, so a text's int8 vector shifts a little with its batch
mates; a one-word text padded beside long ones is the worst case.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from service.errors import ConfigurationError
from service.settings import EmbeddingBackend

log = structlog.get_logger(__name__)

Vectors = npt.NDArray[np.float32]

# The module layout the ONNX path reproduces: a transformer, pooling, then (optionally, the
# vectors are normalised anyway) L2 normalisation. Named by class, as sentence-transformers 2-5
# ("sentence_transformers.models.Pooling") and 6 (".sentence_transformer.modules.pooling.
# Pooling") write different module paths for the same layers.
_LAYOUTS = (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Pooling flags of sentence-transformers before 6; version 6 writes "pooling_mode": "mean".
_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
Pooling = Literal["mean", "cls"]


class SentenceEncoder(Protocol):
    dimensions: int
    # Texts a model was trained to see before a query or a document ("query: ", ...), by
    # sentence-transformers prompt name; empty when the model has none.
    prompts: Mapping[str, str]

    def encode(self, texts: list[str], batch_size: int) -> Vectors:
        """Unit-length vectors of ``texts``, in order."""
        ...


@dataclass(frozen=True, slots=True)
class ModelLayout:
    """What the ONNX path needs to know about a local sentence-transformers model directory."""

    pooling: Pooling
    max_length: int
    dimensions: int
    prompts: Mapping[str, str]

    @classmethod
    def read(cls, directory: Path) -> ModelLayout:
        modules = _read_json(directory / "modules.json")
        classes = [module["type"].rsplit(".", 1)[-1] for module in modules]
        if classes not in _LAYOUTS:
            raise ConfigurationError(
                f"the ONNX backend runs a transformer followed by pooling; {directory} is laid "
                f"out as {classes}: set MEMORY_EMBEDDING_BACKEND=torch for this model"
            )
        config = _read_json(directory / "config.json")
        pooling = _read_json(directory / modules[1]["path"] / "config.json")
        # The pooling layer names its width (sentence-transformers before 6, then since).
        dimensions = pooling.get("word_embedding_dimension", pooling.get("embedding_dimension"))
        return cls(
            pooling=_pooling(directory, pooling),
            max_length=_max_length(directory, config),
            dimensions=int(dimensions or config["hidden_size"]),
            prompts=_saved_prompts(directory),
        )


def load_sentence_transformer(model_path: str) -> Any:
    # Never reach for a model hub at run time: the network is closed in production too.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415  # slow import

    return SentenceTransformer(model_path, device="cpu")


class TorchSentenceEncoder:
    """Any sentence-transformers model, run by torch."""

    def __init__(self, model_path: str) -> None:
        self._model = load_sentence_transformer(model_path)
        dimensions = self._model.get_embedding_dimension()
        if not isinstance(dimensions, int):
            raise ConfigurationError(f"model {model_path!r} does not report its dimension")
        self.dimensions = dimensions
        self.prompts: Mapping[str, str] = dict(self._model.prompts)

    def encode(self, texts: list[str], batch_size: int) -> Vectors:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxSentenceEncoder:
    """A mean- or CLS-pooled sentence-transformers model, run by onnxruntime."""

    def __init__(self, model_path: str, cache_dir: Path, *, int8: bool = False) -> None:
        import onnxruntime  # noqa: PLC0415  # heavy import, only for this backend
        from tokenizers import Tokenizer  # noqa: PLC0415

        directory = Path(model_path)
        layout = ModelLayout.read(directory)
        self.dimensions = layout.dimensions
        self.prompts = layout.prompts
        self._pooling = layout.pooling
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(layout.max_length)
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are noise
        # By default the runtime's threads spin after each pass, waiting for the next one; on
        # a small machine that burns the CPU Postgres and the event loop need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(
                quantised_model(directory, cache_dir)
                if int8
                else exported_model(directory, cache_dir)
            ),
            options,
            providers=["CPUExecutionProvider"],
        )
        self._input_names = [node.name for node in self._session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int) -> Vectors:
        parts = [
            self._encode_batch(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)
        ]
        if not parts:
            return np.empty((0, self.dimensions), np.float32)
        vectors: Vectors = np.concatenate(parts)
        return vectors

    def _encode_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        given = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        inputs = {name: given[name] for name in self._input_names}
        token_vectors: Vectors = self._session.run(None, inputs)[0]
        if self._pooling == "cls":
            pooled = token_vectors[:, 0]
        else:
            weights = mask[..., np.newaxis].astype(np.float32)
            pooled = (token_vectors * weights).sum(axis=1) / np.clip(
                weights.sum(axis=1), 1e-9, None
            )
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        unit_vectors: Vectors = (pooled / norms).astype(np.float32)
        return unit_vectors


def load_encoder(backend: EmbeddingBackend, model_path: str, cache_dir: Path) -> SentenceEncoder:
    if backend in ("onnx", "onnx-int8"):
        return OnnxSentenceEncoder(model_path, cache_dir, int8=backend == "onnx-int8")
    return TorchSentenceEncoder(model_path)


def exported_model(model_dir: Path, cache_dir: Path) -> Path:
    """The ONNX export of the model in ``model_dir``, made once and kept in ``cache_dir``.

    The file is named by a hash of the weights, so a changed model never reuses a stale
    export; it is written under a temporary name and renamed, so that replicas sharing the
    directory never read half a file.
    """
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise ConfigurationError(
            f"{model_dir} has no model.safetensors to export to ONNX; "
            "set MEMORY_EMBEDDING_BACKEND=torch for this model"
        )
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"sentence-encoder-{digest}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("embedder.exporting_onnx", model=str(model_dir), target=str(target))
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        partial = Path(scratch) / target.name
        _export(model_dir, partial)
        partial.replace(target)
    return target


def quantised_model(model_dir: Path, cache_dir: Path) -> Path:
    """The int8 version of ``exported_model``, made once beside it."""
    exported = exported_model(model_dir, cache_dir)
    target = exported.with_name(f"{exported.stem}-int8.onnx")
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    log.info("embedder.quantising_onnx", source=str(exported), target=str(target))
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        partial = Path(scratch) / target.name
        quantize_dynamic(exported, partial, weight_type=QuantType.QInt8, per_channel=True)
        partial.replace(target)
    return target


def _export(model_dir: Path, target: Path) -> None:
    import torch  # noqa: PLC0415  # only needed the first time a model is exported

    transformer = load_sentence_transformer(str(model_dir))[0].auto_model.eval()
    # BERT takes token types; DistilBERT and MPNet (all-mpnet-base-v2) take no such input.
    accepted = inspect.signature(transformer.forward).parameters
    inputs = [name for name in _INPUTS if name in accepted]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *values: torch.Tensor) -> torch.Tensor:
            output = self.transformer(**dict(zip(inputs, values, strict=True)))
            return output.last_hidden_state  # type: ignore[no-any-return]

    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in inputs)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*inputs, "last_hidden_state")}
    with warnings.catch_warnings():
        # The tracer warns about shape-dependent branches that the dynamic axes make safe.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(),
            example,
            str(target),
            input_names=inputs,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT well
        )


def _pooling(directory: Path, config: dict[str, Any]) -> Pooling:
    modes = config.get("pooling_mode")
    if modes is None:
        modes = [mode for flag, mode in _POOLING_FLAGS.items() if config.get(flag)]
    elif isinstance(modes, str):
        modes = [modes]
    if modes == ["mean"] and config.get("include_prompt", True) is False:
        modes = ["mean without the prompt's tokens"]
    if modes not in (["mean"], ["cls"]):
        raise ConfigurationError(
            f"the ONNX backend pools by mean or by the CLS token; {directory} pools by "
            f"{' + '.join(map(str, modes)) or 'nothing'}: set MEMORY_EMBEDDING_BACKEND=torch "
            "for this model"
        )
    return "cls" if modes == ["cls"] else "mean"


def _max_length(directory: Path, config: dict[str, Any]) -> int:
    """Where sentence-transformers keeps the window: its own config before version 6, the
    tokenizer's config since; the model's position table bounds both."""
    positions = int(config.get("max_position_embeddings", 512))
    sentence_config = directory / "sentence_bert_config.json"
    saved = _read_json(sentence_config).get("max_seq_length") if sentence_config.exists() else None
    if saved is None and (directory / "tokenizer_config.json").exists():
        saved = _read_json(directory / "tokenizer_config.json").get("model_max_length")
    return min(int(saved), positions) if isinstance(saved, int) else positions


def _saved_prompts(directory: Path) -> dict[str, str]:
    path = directory / "config_sentence_transformers.json"
    prompts = _read_json(path).get("prompts") if path.exists() else None
    return {str(name): str(text) for name, text in (prompts or {}).items()}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path} is missing: the ONNX backend needs a local sentence-transformers model "
            "directory (or set MEMORY_EMBEDDING_BACKEND=torch)"
        ) from None
