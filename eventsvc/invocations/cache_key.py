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


def cache_key(node: BaseInvocation) -> str | None:
    meta = type(node).meta
    if not node.use_cache or not meta.deterministic:
        return None
    if not _finite(node.model_dump(exclude=set(NOT_INPUTS))):
        return None  # NaN or infinity: JSON has no form for it (pydantic writes null)
    inputs = node.model_dump(mode="json", exclude=set(NOT_INPUTS))
    canonical = json.dumps(
        {"type": meta.type, "version": meta.version, "inputs": inputs},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in ``value``."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_finite(v) for v in value)
    return True
