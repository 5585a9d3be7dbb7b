"""LangChain retriever over a swsearch index (``pip install "swsearch[langchain]"``).

>>> from swsearch.langchain import SwsearchRetriever
>>> retriever = SwsearchRetriever(k=3, where={"kind": "official document"})   # the bundled index
>>> retriever.invoke("How are community workers paid?")       # also ainvoke, batch, abatch

Each result is a ``langchain_core.documents.Document`` whose ``page_content`` is the chunk's text and whose
``metadata`` holds the score, rank, ids, title, language, heading, offsets, the best-matching sentence and
the document's own metadata. Options given to ``invoke(query, where=..., k=...)`` override the retriever's.
"""

from __future__ import annotations

from typing import Any

from .adapters import SEARCH_OPTIONS, hit_metadata, open_index, search_options
from .errors import MissingExtraError

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LCDocument
    from langchain_core.retrievers import BaseRetriever
except ImportError:
    raise MissingExtraError('the LangChain retriever needs langchain-core; run: pip install "swsearch[langchain]"') \
        from None


class SwsearchRetriever(BaseRetriever):
    """``Index.search`` as a LangChain retriever; ``index`` is an ``Index``, a path, or None (bundled)."""

    index: Any = None
    k: int = 5
    doc_ids: list[str] | None = None
    language: str | None = None
    where: dict[str, Any] | None = None
    mode: str | None = None
    fusion: str = "auto"
    weights: dict[str, float] | None = None

    def model_post_init(self, __context: Any) -> None:
        self.index = open_index(self.index)

    def _search(self, query: str, overrides: dict[str, Any]) -> list[LCDocument]:
        options = search_options({name: getattr(self, name) for name in SEARCH_OPTIONS}, overrides)
        hits = self.index.search(query, **options)
        return [LCDocument(page_content=h.text, metadata=hit_metadata(h), id=h.chunk_id) for h in hits]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[LCDocument]:
        return self._search(query, kwargs)

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       **kwargs: Any) -> list[LCDocument]:
        import asyncio
        import functools

        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(self._search, query, kwargs))
