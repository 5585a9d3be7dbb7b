"""LlamaIndex retriever over a swsearch index (``pip install "swsearch[llamaindex]"``).

>>> from swsearch.llamaindex import SwsearchRetriever
>>> retriever = SwsearchRetriever(k=3, language="zh")          # the bundled index
>>> retriever.retrieve("How are community workers paid?")     # also aretrieve; a query engine can use it

Each result is a ``NodeWithScore`` whose ``TextNode`` has the chunk's id and text and whose ``metadata``
holds the rank, ids, title, language, heading, offsets, the best-matching sentence and the document's own
metadata (the score is on the ``NodeWithScore``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .adapters import hit_metadata, open_index
from .errors import MissingExtraError
from .index import Index

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError:
    raise MissingExtraError('the LlamaIndex retriever needs llama-index-core; run: pip install '
                            '"swsearch[llamaindex]"') from None


class SwsearchRetriever(BaseRetriever):
    """``Index.search`` as a LlamaIndex retriever; ``index`` is an ``Index``, a path, or None (bundled)."""

    def __init__(self, index: Index | str | None = None, *, k: int = 5, doc_ids: Sequence[str] | None = None,
                 language: str | None = None, where: Mapping[str, Any] | None = None, mode: str | None = None,
                 fusion: str = "auto", weights: Mapping[str, float] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.index = open_index(index)
        self.options = {"k": k, "doc_ids": doc_ids, "language": language, "where": where, "mode": mode,
                        "fusion": fusion, "weights": weights}

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.index.search(query_bundle.query_str, **self.options)
        return [NodeWithScore(node=TextNode(id_=h.chunk_id, text=h.text, metadata=hit_metadata(h)), score=h.score)
                for h in hits]
