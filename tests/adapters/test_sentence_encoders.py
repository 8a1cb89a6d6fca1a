"""The ONNX backend against torch, on the real model: same vectors, one export, clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.adapters.embedder import resolve_model_path
from service.adapters.sentence_encoders import OnnxSentenceEncoder, TorchSentenceEncoder
from service.errors import ConfigurationError
from service.settings import DEFAULT_EMBEDDING_MODEL

TEXTS = [
    "Caroline went to the LGBTQ support group on 7 May 2023.",
    "x",
    "Melanie: I painted a sunrise over the lake last week, it took me three evenings!",
    # Longer than the model's 256-token window: both backends must truncate alike.
    " ".join(f"word{i}" for i in range(600)),
]


@pytest.fixture(scope="module")
def model_path() -> str:
    return resolve_model_path(DEFAULT_EMBEDDING_MODEL)


def test_onnx_vectors_match_torch(model_path: str, tmp_path: Path) -> None:
    onnx = OnnxSentenceEncoder(model_path, tmp_path).encode(TEXTS, batch_size=3)
    torch = TorchSentenceEncoder(model_path).encode(TEXTS, batch_size=3)

    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * torch).sum(axis=1).min() > 0.9999


def test_int8_vectors_stay_close_to_the_float_ones_and_rank_alike(
    model_path: str, tmp_path: Path
) -> None:
    float_vectors = OnnxSentenceEncoder(model_path, tmp_path).encode(TEXTS, batch_size=3)
    int8_vectors = OnnxSentenceEncoder(model_path, tmp_path, int8=True).encode(TEXTS, 3)

    assert sorted(path.name.endswith("-int8.onnx") for path in tmp_path.glob("*.onnx")) == [
        False,
        True,
    ]
    assert np.allclose(np.linalg.norm(int8_vectors, axis=1), 1.0, atol=1e-5)
    # 0.977 measured for "x" padded beside the 600-word text on an AVX-512 VNNI CPU.
    assert (float_vectors * int8_vectors).sum(axis=1).min() > 0.97
    # The question is nearest to the memory that answers it under both.
    query = OnnxSentenceEncoder(model_path, tmp_path, int8=True).encode(
        ["When did Caroline go to the support group?"], 1
    )
    assert int((int8_vectors @ query[0]).argmax()) == 0


def test_the_export_is_made_once_and_reused(model_path: str, tmp_path: Path) -> None:
    OnnxSentenceEncoder(model_path, tmp_path)
    [export] = list(tmp_path.iterdir())
    written = export.stat().st_mtime_ns

    OnnxSentenceEncoder(model_path, tmp_path)

    assert list(tmp_path.iterdir()) == [export]
    assert export.stat().st_mtime_ns == written


def test_a_model_that_is_not_mean_pooled_is_refused_with_the_way_out(
    model_path: str, tmp_path: Path
) -> None:
    model = tmp_path / "cls-pooled"
    shutil.copytree(model_path, model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False}))

    with pytest.raises(ConfigurationError, match="MEMORY_EMBEDDING_BACKEND=torch"):
        OnnxSentenceEncoder(str(model), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
