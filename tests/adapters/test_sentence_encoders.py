"""The ONNX backend against torch, on the real model: same vectors, one export, clear refusals.

Models other than the default are checked on a small CLS-pooled BERT with random weights,
saved by the installed sentence-transformers with e5-style prompts: its vectors mean nothing,
but sentence-transformers' own encode_query / encode_document are the reference they must
match.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.adapters.embedder import Embedder, resolve_model_path
from service.adapters.sentence_encoders import (
    OnnxSentenceEncoder,
    TorchSentenceEncoder,
    load_sentence_transformer,
)
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


def save_small_model(
    root: Path, transformer_model: Any, tokenizer_from: str, pooling: str, **model: Any
) -> str:
    """``transformer_model`` (random weights) behind the MiniLM tokenizer, 64-token window,
    saved by the installed sentence-transformers in the layout it writes today (not the
    default model's older one)."""
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415
    from sentence_transformers.sentence_transformer.modules import (  # noqa: PLC0415
        Normalize,
        Pooling,
        Transformer,
    )
    from transformers import AutoTokenizer  # noqa: PLC0415

    transformer_model.save_pretrained(root / "transformer")
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(root / "transformer")
    transformer = Transformer(str(root / "transformer"), max_seq_length=64)
    dimensions = transformer.get_embedding_dimension()
    modules = [transformer, Pooling(dimensions, pooling_mode=pooling), Normalize()]
    SentenceTransformer(modules=modules, **model).save(str(root / "model"))
    return str(root / "model")


@pytest.fixture(scope="module")
def prompted_cls_model(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer BERT pooled by its CLS token, with query/passage prompts (like e5's)."""
    import torch  # noqa: PLC0415
    from transformers import BertConfig, BertModel  # noqa: PLC0415

    torch.manual_seed(7)
    # Weights drawn wide, so that different texts (and prompts) get clearly different vectors.
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, initializer_range=1.0
    )
    return save_small_model(
        tmp_path_factory.mktemp("prompted-cls"),
        BertModel(config),
        model_path,
        "cls",
        prompts={"query": "query: ", "document": "passage: "},
    )


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


def test_a_cls_pooled_model_in_todays_layout_matches_torch_with_its_prompts(
    prompted_cls_model: str, tmp_path: Path
) -> None:
    onnx = OnnxSentenceEncoder(prompted_cls_model, tmp_path)
    torch = TorchSentenceEncoder(prompted_cls_model)

    assert onnx.prompts == torch.prompts == {"query": "query: ", "document": "passage: "}
    # The 600-word text passes the 64-token window: vectors agree only if both cut it there.
    onnx_vectors, torch_vectors = onnx.encode(TEXTS, 3), torch.encode(TEXTS, 3)
    assert onnx_vectors.shape == (len(TEXTS), 32)
    assert (onnx_vectors * torch_vectors).sum(axis=1).min() > 0.9999


def test_a_model_without_token_types_exports_and_matches_torch(
    model_path: str, tmp_path: Path
) -> None:
    # DistilBERT, like MPNet (all-mpnet-base-v2), takes no token_type_ids input.
    import torch  # noqa: PLC0415
    from transformers import DistilBertConfig, DistilBertModel  # noqa: PLC0415

    torch.manual_seed(3)
    config = DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, initializer_range=1.0)
    model = save_small_model(tmp_path, DistilBertModel(config), model_path, "mean")

    onnx_vectors = OnnxSentenceEncoder(model, tmp_path / "cache").encode(TEXTS, 3)
    torch_vectors = TorchSentenceEncoder(model).encode(TEXTS, 3)

    assert onnx_vectors.shape == (len(TEXTS), 32)
    assert (onnx_vectors * torch_vectors).sum(axis=1).min() > 0.9999
    assert (onnx_vectors[0] @ onnx_vectors[2]) < 0.99  # texts are told apart


def test_searches_and_stored_texts_are_embedded_behind_the_models_prompts(
    prompted_cls_model: str, tmp_path: Path
) -> None:
    reference = load_sentence_transformer(prompted_cls_model)
    question, memory = "Where does Nora work?", "Nora is a nurse in Oslo"

    async def embed(embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
        embedder.load()
        await embedder.start()
        try:
            return await embedder.embed_query(question), (await embedder.embed([memory]))[0]
        finally:
            await embedder.stop()

    query, document = asyncio.run(embed(Embedder(prompted_cls_model, cache_dir=tmp_path)))
    assert query @ reference.encode_query(question, normalize_embeddings=True) > 0.9999
    assert document @ reference.encode_document(memory, normalize_embeddings=True) > 0.9999
    assert query @ reference.encode(question, normalize_embeddings=True) < 0.999

    # Set prompts replace the model's own; an empty one means none.
    plain = Embedder(prompted_cls_model, cache_dir=tmp_path, query_prompt="", document_prompt="")
    query, document = asyncio.run(embed(plain))
    assert query @ reference.encode(question, normalize_embeddings=True) > 0.9999
    assert plain.vector_space.document_prompt == ""


def test_a_model_pooled_otherwise_is_refused_with_the_way_out(
    model_path: str, tmp_path: Path
) -> None:
    model = tmp_path / "max-pooled"
    shutil.copytree(model_path, model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True})
    )

    with pytest.raises(
        ConfigurationError, match="pools by max: set MEMORY_EMBEDDING_BACKEND=torch"
    ):
        OnnxSentenceEncoder(str(model), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
