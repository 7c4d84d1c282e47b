"""Schemathesis hooks for `test_schemathesis.py` (loaded by the `schemathesis` CLI through
``SCHEMATHESIS_HOOKS=tests.reliability.schemathesis_hooks``).

The server's schema cannot say that a transfer id is 12 lowercase hex characters and must exist, so
random ids mostly earn a 400 or 404 and never reach the code behind them. These hooks mix in, three
times in four, ids of real transfers (completed, pending, mid-multipart, deleted), real upload ids and
download tickets, and the query strings of real presigned URLs, all from ``SGSEND_FUZZ_KNOWN`` (JSON)."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

KNOWN: dict[str, list[Any]] = json.loads(os.environ.get("SGSEND_FUZZ_KNOWN", "{}"))


def _mixed(name: str, value: Any) -> st.SearchStrategy[Any]:
    options = KNOWN.get(name)
    if not options:
        return st.just(value)
    known = st.sampled_from(options)
    return st.one_of(st.just(value), known, known, known)  # three times in four: a real one


def _each(values: Any) -> st.SearchStrategy[Any]:
    if not isinstance(values, dict) or not values:
        return st.just(values)
    return st.fixed_dictionaries({key: _mixed(key, value) for key, value in values.items()})


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
    return _each(path_parameters)


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _each(body)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    signed = KNOWN.get("signed_queries")
    if not signed:
        return st.just(query)
    return st.one_of(st.just(query), st.sampled_from(signed))  # half of the time
