"""The manifest schema names the first wrong field by its full path, in one line."""

import copy

from swsearch import schema

CHECK = schema.manifest_schema(("en", "zh"), ("none",), ("flat",), ("hybrid",))
GOOD = {"format": "swsearch-index", "format_version": 2,
        "model": {"name": "m", "backend": "hash", "fingerprint": "f", "dim": 8},
        "chunking": {"max_tokens": 128}, "counts": {"documents": 2, "chunks": 2},
        "search": {"weights": {"dense": 1.0}},
        "documents": [{"id": f"d{i}", "language": "en", "sha256": "ab" * 32, "metadata": {"k": [1]}}
                      for i in range(2)]}


def _with(path: list, value):
    m = copy.deepcopy(GOOD)
    node = m
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return m


def test_a_good_manifest_passes():
    assert CHECK(GOOD) is None


def test_each_problem_is_named_by_its_path():
    cases = [
        (["documents", 1, "sha256"], "AB" * 32, "manifest.documents[1].sha256 must be a sha256 hex digest"),
        (["documents", 1, "sha256"], "ab" * 31, "manifest.documents[1].sha256 must be a sha256 hex digest"),
        (["documents", 0, "language"], "fr", "manifest.documents[0].language must be one of en, zh (got 'fr')"),
        (["model", "dim"], KeyError, "manifest.model.dim is missing"),
        (["model", "dim"], True, "manifest.model.dim must be a whole number of at least 1 (got True)"),
        (["search", "weights", "dense"], float("nan"), "manifest.search.weights['dense'] must be a finite number"),
        (["documents"], {}, "manifest.documents must be a list (got dict)"),
        (["documents", 1], None, "manifest.documents[1] must be an object (got null)"),
    ]
    for path, value, message in cases:
        got = CHECK(_with(path, value))
        assert got is not None and got.startswith(message), (path, got)
        assert "\n" not in got


def test_the_first_problem_in_field_order_is_reported():
    m = _with(["model", "name"], 3)
    del m["model"]["dim"]  # name comes before dim in the schema, so name is the one reported
    assert CHECK(m).startswith("manifest.model.name must be text (got int)")
