"""The invocation cache's key: what makes two node executions the same (pure, L0).

sha256 over the node's type, its version and its input values in a canonical JSON form
(sorted keys, no whitespace), leaving out what does not change the result: the node's id,
``is_intermediate`` and ``use_cache``. A node asked not to use the cache, or of a type that
declares itself non-deterministic (``iterate``/``collect``; seeded random nodes are
deterministic), has no key and never hits.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from eventsvc.invocations.base import BaseInvocation

NOT_INPUTS = frozenset({"id", "type", "is_intermediate", "use_cache"})
_EXCLUDED = set(NOT_INPUTS)  # as pydantic takes it (never changed)
# json.dumps with these options would build an encoder at every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(node: BaseInvocation) -> str | None:
    meta = type(node).meta
    if not node.use_cache or not meta.deterministic:
        return None
    inputs = node.model_dump(exclude=_EXCLUDED)
    plain = _plain(inputs)
    if plain is None:
        return None  # NaN or infinity: JSON has no form for it (pydantic writes null)
    if not plain:  # values JSON has no type for (a datetime, a set): as pydantic writes them
        inputs = node.model_dump(mode="json", exclude=_EXCLUDED)
    canonical = _CANONICAL.encode({"type": meta.type, "version": meta.version, "inputs": inputs})
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> bool | None:
    """Whether ``value`` is made of JSON's own types only (then pydantic's JSON mode would
    write it as it is); None if it holds a NaN or an infinity anywhere."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return True if math.isfinite(value) else None
    if kind is dict or kind is list or kind is tuple or isinstance(value, set | frozenset):
        items = value.values() if kind is dict else value
        found = [_plain(item) for item in items]
        if None in found:
            return None
        keys_plain = kind is not dict or all(type(k) is str for k in value)
        return all(found) and keys_plain and kind is not set and kind is not frozenset
    return False
