"""String nodes: join, replace, split and a safe ``{name}`` template."""

from __future__ import annotations

import re
from typing import Any

from eventsvc.errors import NodeError
from eventsvc.invocations.base import (
    BaseInvocation,
    InputField,
)
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.decorators import invocation
from eventsvc.invocations.primitives import StringCollectionOutput, StringOutput

_TAGS = ("string",)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@invocation("string_join", title="Join Strings", tags=_TAGS, category="strings")
class StringJoinInvocation(BaseInvocation):
    """left + separator + right"""

    left: str = InputField("", description="The first string")
    right: str = InputField("", description="The second string")
    separator: str = InputField("", description="Put between the two")

    def invoke(self, context: InvocationContext) -> StringOutput:
        return StringOutput(value=f"{self.left}{self.separator}{self.right}")


@invocation("string_replace", title="Replace in String", tags=_TAGS, category="strings")
class StringReplaceInvocation(BaseInvocation):
    """Replace every occurrence of ``search`` (a literal, or a regex when asked)."""

    string: str = InputField("", description="The string to search")
    search: str = InputField("", description="What to find")
    replace: str = InputField("", description="What to put instead")
    use_regex: bool = InputField(False, description="Treat search as a regular expression")

    def invoke(self, context: InvocationContext) -> StringOutput:
        if not self.use_regex:
            return StringOutput(value=self.string.replace(self.search, self.replace))
        try:
            return StringOutput(value=re.sub(self.search, self.replace, self.string))
        except re.error as exc:
            raise NodeError(f"string_replace: invalid regex {self.search!r}: {exc}") from exc


@invocation("string_split", title="Split String", tags=_TAGS, category="strings")
class StringSplitInvocation(BaseInvocation):
    """Split on ``delimiter`` (whitespace when empty)."""

    string: str = InputField("", description="The string to split")
    delimiter: str = InputField("", description="Where to split; empty splits on whitespace")

    def invoke(self, context: InvocationContext) -> StringCollectionOutput:
        parts = self.string.split(self.delimiter) if self.delimiter else self.string.split()
        return StringCollectionOutput(collection=parts)


@invocation("string_format", title="Format String", tags=_TAGS, category="strings")
class StringFormatInvocation(BaseInvocation):
    """Fill ``{name}`` placeholders from ``values``; nothing else in the template is evaluated."""

    template: str = InputField("", description="Text with {name} placeholders")
    values: dict[str, Any] = InputField(default_factory=dict, description="Placeholder values")

    def invoke(self, context: InvocationContext) -> StringOutput:
        missing = sorted(set(_PLACEHOLDER.findall(self.template)) - set(self.values))
        if missing:
            raise NodeError(f"string_format: no value for placeholder(s) {missing}")
        return StringOutput(
            value=_PLACEHOLDER.sub(lambda m: str(self.values[m.group(1)]), self.template)
        )
