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

from eventsvc.invocations.base import BaseInvocation

NOT_INPUTS = frozenset({"id", "type", "is_intermediate", "use_cache"})


def cache_key(node: BaseInvocation) -> str | None:
    meta = type(node).meta
    if not node.use_cache or not meta.deterministic:
        return None
    inputs = node.model_dump(mode="json", exclude=set(NOT_INPUTS))
    try:
        canonical = json.dumps(
            {"type": meta.type, "version": meta.version, "inputs": inputs},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except ValueError:  # NaN or infinity: no canonical form, so no key
        return None
    return hashlib.sha256(canonical.encode()).hexdigest()
