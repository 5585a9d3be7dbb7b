"""The LangChain and LlamaIndex retrievers (optional extras), and searching one index from many threads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from swsearch import Index
from swsearch.index import bundled_index_dir

QUERIES = ["How are community workers paid?", "volunteer insurance", "社区工作者配备", "petition deadlines",
           "志愿服务记录", "residents committee elections", "社会工作人才", "grassroots governance"]


def test_many_threads_search_one_freshly_loaded_index_like_one_thread():
    """The query encoder loads once (its warm-up thread joined once) whatever the threads; same answers."""
    alone = [[h.to_dict() for h in Index.load(bundled_index_dir()).search(q, k=5)] for q in QUERIES]
    shared = Index.load(bundled_index_dir(), warm_up=True)  # searched while its warm-up thread still runs
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: [h.to_dict() for h in shared.search(q, k=5)], QUERIES * 3))
    assert together == alone * 3


def test_langchain_retriever_invoke_ainvoke_batch_with_filters():
    pytest.importorskip("langchain_core")
    from swsearch.langchain import SwsearchRetriever

    retriever = SwsearchRetriever(k=3, where={"kind": "official document"})
    docs = retriever.invoke("How are community workers paid?")
    expected = Index.load(bundled_index_dir()).search("How are community workers paid?", k=3,
                                                      where={"kind": "official document"})
    assert [d.id for d in docs] == [h.chunk_id for h in expected]
    assert [d.page_content for d in docs] == [h.text for h in expected]
    first = docs[0].metadata
    assert first["score"] == expected[0].score and first["kind"] == "official document" and first["rank"] == 1
    assert first["highlight"] in docs[0].page_content and first["doc_id"] == expected[0].doc_id
    assert [len(r) for r in retriever.batch(QUERIES[:4])] == [3, 3, 3, 3]
    one = asyncio.run(retriever.ainvoke("volunteer insurance", k=1, language="zh"))  # per-call options
    assert len(one) == 1 and one[0].metadata["language"] == "zh"
    from swsearch import InputError
    with pytest.raises(InputError, match="unknown search option"):
        retriever.invoke("x", top=3)


def test_llamaindex_retriever_with_filters():
    pytest.importorskip("llama_index.core")
    from swsearch.llamaindex import SwsearchRetriever

    retriever = SwsearchRetriever(k=4, language="zh", where={"date": {">=": "2020"}})
    nodes = retriever.retrieve("volunteer insurance")
    assert len(nodes) == 4 and all(n.node.metadata["language"] == "zh" for n in nodes)
    assert all(n.node.metadata["date"] >= "2020" for n in nodes)
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    assert nodes[0].node.node_id.startswith(nodes[0].node.metadata["doc_id"] + "#")
    assert len(asyncio.run(retriever.aretrieve("社区工作者"))) == 4


@pytest.mark.parametrize("module, extra", [("langchain", "langchain"), ("llamaindex", "llamaindex")])
def test_a_missing_framework_names_its_extra(module, extra):
    hide = {"langchain": "langchain_core", "llamaindex": "llama_index"}[module]
    code = (f"import sys; sys.modules[{hide!r}] = None\n"
            f"try:\n    import swsearch.{module}\nexcept ImportError as exc:\n    print(exc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert f'pip install "swsearch[{extra}]"' in proc.stdout, proc.stderr
