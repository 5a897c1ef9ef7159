"""FrozenDict, freeze and thaw: deeply read-only documents and fresh plain copies of them."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spatten_sim.frozen import FrozenDict, freeze, thaw

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=4), json_like, max_size=5))
def test_thaw_of_freeze_is_the_same_document(doc: dict) -> None:
    frozen = freeze(doc)
    assert thaw(frozen) == doc
    assert json.dumps(thaw(frozen)) == json.dumps(doc)
    assert pickle.loads(pickle.dumps(frozen)) == frozen
    assert hash(freeze(copy.deepcopy(doc))) == hash(frozen)


def test_frozen_all_the_way_down() -> None:
    d = FrozenDict({"a": {"b": [1, {"c": 2}]}})
    assert isinstance(d["a"], FrozenDict) and d["a"]["b"] == (1, FrozenDict({"c": 2}))
    with pytest.raises(TypeError):
        d["a"]["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        del d["a"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        d._d = {}  # type: ignore[misc]
    assert d == {"a": {"b": (1, {"c": 2})}} and d != {"a": {"b": [1, {"c": 2}]}}
    assert list(FrozenDict({"z": 1, "a": 2})) == ["z", "a"]  # order is kept
    assert freeze(d) is d and copy.deepcopy(d) is d


def test_thaw_gives_new_plain_containers() -> None:
    d = freeze({"a": {"b": [1]}})
    t1, t2 = thaw(d), thaw(d)
    assert type(t1) is dict and type(t1["a"]["b"]) is list
    t1["a"]["b"].append(2)
    assert t2 == {"a": {"b": [1]}} and d["a"]["b"] == (1,)
