import pytest

from swsearch.evaluate import contains_span, load_beir_qrels, ranked_run, score_span_queries, trec_scores


def test_span_rule_ignores_white_space_and_case():
    assert contains_span("The  Social Work\nEducation Research Center", ["social work education research"])
    assert contains_span("不得捏造、歪曲 事实", ["不得捏造、歪曲事实"])
    assert not contains_span("something else", ["social work"])


def test_hit_and_mrr_against_hand_computed_values():
    queries = [{"id": "a", "lang": "en->en", "gold": ["gold"]},
               {"id": "b", "lang": "en->en", "gold": ["gold"]},
               {"id": "c", "lang": "zh->en", "gold": ["gold"]}]
    ranked = {"a": [("1", "gold here"), ("2", "x")],                      # rank 1 → rr 1
              "b": [("1", "x"), ("2", "y"), ("3", "z GOLD"), ("4", "gold")],  # rank 3 → rr 1/3
              "c": [("1", "x")] * 1 + [(str(i), "x") for i in range(2, 12)] + [("12", "gold")]}  # rank 12 → 0
    s = score_span_queries(queries, ranked)
    assert s["en->en"] == {"n": 2, "hit@1": 0.5, "hit@5": 1.0, "mrr@10": pytest.approx((1 + 1 / 3) / 2, abs=1e-4)}
    assert s["zh->en"]["mrr@10"] == 0.0 and s["zh->en"]["hit@5"] == 0.0
    assert s["all"]["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)


def test_ndcg_and_recall_match_a_hand_computed_case(tmp_path):
    qrels_file = tmp_path / "test.tsv"
    qrels_file.write_text("query-id\tcorpus-id\tscore\nq\td1\t1\nq\td3\t1\n")
    qrels = load_beir_qrels(qrels_file)
    assert qrels == {"q": {"d1": 1, "d3": 1}}
    run = ranked_run({"q": ["d2", "d1", "d3"]})
    s = trec_scores(qrels, run, ["ndcg_cut.10", "recall.100"])["q"]
    import math
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert s["ndcg_cut_10"] == pytest.approx(dcg / idcg, abs=1e-6)
    assert s["recall_100"] == 1.0
