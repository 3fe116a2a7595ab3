"""Strict JSON (theory.jsonio): null plus a reason instead of NaN/Infinity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from theory import jsonio


def test_non_finite_values_become_null_with_reason():
    doc = {"t": math.inf, "J": math.nan, "x": -math.inf, "ok": 1.5, "n": np.int64(3),
           "f": np.float64(math.inf), "nested": {"a": [1.0, math.nan]},
           "given": math.inf, "given_reason": "never reached"}
    text = jsonio.dumps(doc)
    back = json.loads(text, parse_constant=lambda c: pytest.fail(c))
    assert back["t"] is None and back["t_reason"] == "inf"
    assert back["J_reason"] == "nan" and back["x_reason"] == "-inf"
    assert back["ok"] == 1.5 and back["n"] == 3 and back["f"] is None
    assert back["nested"]["a"] == [1.0, None] and "nan" in back["nested"]["a_reason"]
    assert back["given_reason"] == "never reached"


def test_plain_documents_are_unchanged():
    doc = {"a": [1, 2.5, "x", None, True], "b": {"c": 0.0}}
    assert json.loads(jsonio.dumps(doc)) == doc
