"""Node types: the base classes, the decorators, the registry and the built-in packs.

Importing this package registers the built-in packs (primitives, math, strings, collections,
tensors) in ``REGISTRY``.
"""

from eventsvc.invocations import collections, math, primitives, strings, tensors
from eventsvc.invocations.base import (
    BaseInvocation,
    BaseInvocationOutput,
    Classification,
    Input,
    InputField,
    InvocationError,
    InvocationMeta,
    Isolation,
    OutputField,
)
from eventsvc.invocations.context import ArtifactRef, ArtifactStore, InvocationContext
from eventsvc.invocations.decorators import invocation, invocation_output
from eventsvc.invocations.registry import REGISTRY, InvocationRegistry, builtin_registry

__all__ = [
    "REGISTRY",
    "ArtifactRef",
    "ArtifactStore",
    "BaseInvocation",
    "BaseInvocationOutput",
    "Classification",
    "Input",
    "InputField",
    "InvocationContext",
    "InvocationError",
    "InvocationMeta",
    "InvocationRegistry",
    "Isolation",
    "OutputField",
    "builtin_registry",
    "collections",
    "invocation",
    "invocation_output",
    "math",
    "primitives",
    "strings",
    "tensors",
]
