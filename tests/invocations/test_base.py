from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from eventsvc.invocations import (
    REGISTRY,
    BaseInvocation,
    BaseInvocationOutput,
    Input,
    InputField,
    InvocationError,
    Isolation,
    OutputField,
    builtin_registry,
    invocation,
    invocation_output,
)
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.math import AddInvocation
from eventsvc.invocations.primitives import IntegerOutput
from eventsvc.invocations.strings import StringReplaceInvocation


@invocation_output("test_pair_output")
class PairOutput(BaseInvocationOutput):
    left: int = OutputField(description="Left")
    right: str = OutputField(description="Right")


@invocation("test_pair", title="Pair", tags=("test",), category="tests", version="1.2.3",
            classification="beta")  # fmt: skip
class PairInvocation(BaseInvocation):
    number: int = InputField(input=Input.CONNECTION, description="Fed by an edge")
    label: str = InputField("x", input=Input.DIRECT, description="A literal")

    def invoke(self, context: InvocationContext) -> PairOutput:
        return PairOutput(left=self.number, right=self.label)


def test_the_decorator_adds_the_type_literal_and_metadata() -> None:
    node = PairInvocation(id="p", number=3)
    assert node.type == "test_pair"  # type: ignore[attr-defined]
    assert node.node_type == "test_pair"
    meta = PairInvocation.meta
    assert (meta.title, meta.tags, meta.category, meta.version) == ("Pair", ("test",), "tests",
                                                                     "1.2.3")  # fmt: skip
    assert meta.classification == "beta"
    assert meta.output is PairOutput
    assert REGISTRY.get("test_pair") is PairInvocation


def test_a_node_gets_a_fresh_id_and_defaults() -> None:
    first, second = AddInvocation(), AddInvocation()
    assert first.id != second.id
    assert (first.is_intermediate, first.use_cache) == (False, True)


def test_assignment_is_validated() -> None:
    node = AddInvocation(a=1)
    with pytest.raises(ValidationError):
        node.a = "not a number"  # type: ignore[assignment]


def test_a_required_connection_input_may_be_left_out_and_is_marked() -> None:
    node = PairInvocation.model_validate({"type": "test_pair", "id": "p"})
    assert node.number is None  # type: ignore[comparison-overlap]
    schema = PairInvocation.model_json_schema()
    assert schema["properties"]["number"]["orig_required"] is True
    assert schema["properties"]["number"]["input"] == "connection"
    assert schema["properties"]["label"]["input"] == "direct"


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AddInvocation.model_validate({"type": "add", "id": "a", "c": 1})


def test_the_output_class_must_come_from_the_return_annotation() -> None:
    with pytest.raises(InvocationError, match="must be annotated to return"):

        @invocation("test_bad_return")
        class BadReturn(BaseInvocation):
            def invoke(self, context: InvocationContext) -> int:  # type: ignore[override]
                return 1


class Loose(BaseInvocationOutput):
    value: int = OutputField()


def test_an_unregistered_output_class_is_refused() -> None:
    with pytest.raises(InvocationError, match="not registered"):

        @invocation("test_loose_output")
        class UsesLoose(BaseInvocation):
            def invoke(self, context: InvocationContext) -> Loose:
                return Loose(value=1)


class Undecorated(BaseInvocation):
    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=0)


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "1.0.0.0", "01.0.0"])
def test_versions_must_be_semver(version: str) -> None:
    with pytest.raises(InvocationError, match="is not semver"):
        invocation("test_semver", version=version)(Undecorated)


def test_classification_must_be_known() -> None:
    with pytest.raises(InvocationError, match="classification 'experimental' is not one of"):
        invocation("test_classification", classification="experimental")(Undecorated)


@pytest.mark.parametrize("field", ["id", "type", "is_intermediate", "use_cache"])
def test_reserved_field_names_are_refused(field: str) -> None:
    namespace: dict[str, Any] = {"__annotations__": {field: "str"}, field: InputField("x")}

    def invoke(self: BaseInvocation, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=0)

    namespace["invoke"] = invoke
    cls = type("Reserved", (BaseInvocation,), namespace)
    with pytest.raises(InvocationError, match="reserved"):
        invocation("test_reserved")(cls)


def test_registering_a_type_again_replaces_it_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @invocation("test_twice")
    class First(BaseInvocation):
        def invoke(self, context: InvocationContext) -> IntegerOutput:
            return IntegerOutput(value=1)

    with caplog.at_level(logging.WARNING, logger="eventsvc.invocations"):

        @invocation("test_twice")
        class Second(BaseInvocation):
            def invoke(self, context: InvocationContext) -> IntegerOutput:
                return IntegerOutput(value=2)

    assert REGISTRY.get("test_twice") is Second
    assert "'test_twice' registered again" in caplog.text
    assert First is not Second


def test_the_builtin_registry_holds_only_the_packs() -> None:
    builtins = builtin_registry()
    assert "test_pair" not in builtins.types()
    assert {"add", "iterate", "collect", "noise", "to_image", "string_format"} <= set(
        builtins.types()
    )
    assert all(cls.__module__.startswith("eventsvc.invocations.") for cls in builtins.invocations())


def test_allow_and_deny_lists_restrict_the_registry() -> None:
    only_math = REGISTRY.restricted(allow=["add", "multiply", "integer"], deny=["multiply"])
    assert only_math.types() == ["add", "integer"]
    assert REGISTRY.restricted(deny=["add"]).get("add") is None
    assert REGISTRY.get("add") is AddInvocation


def test_the_union_parses_nodes_by_type() -> None:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(builtin_registry().invocation_union())
    node = adapter.validate_python({"type": "add", "id": "n", "a": 2})
    assert isinstance(node, AddInvocation)
    assert node.a == 2


def test_unknown_types_name_the_closest_known_ones() -> None:
    problems = REGISTRY.parse_node("n1", {"type": "multipy", "id": "n1"})
    assert isinstance(problems, list)
    [problem] = problems
    assert (problem.code, problem.node_id, problem.field) == ("unknown_node_type", "n1", "type")
    assert "'multiply'" in problem.message


def test_isolation_and_time_limit_are_declared_and_checked() -> None:
    declared = invocation("test_declared", isolation="process", timeout_seconds=2.5)(Undecorated)
    assert (declared.meta.isolation, declared.meta.timeout_seconds) == (Isolation.PROCESS, 2.5)
    # Built-in arithmetic runs inline; a string replace may be a catastrophic regex, so it
    # takes the service's default.
    assert (AddInvocation.meta.isolation, AddInvocation.meta.timeout_seconds) == (
        Isolation.INLINE,
        None,
    )
    assert StringReplaceInvocation.meta.isolation is None
    match = "isolation 'fork' is not one of thread, process, inline"
    with pytest.raises(InvocationError, match=match):
        invocation("test_isolation", isolation="fork")(Undecorated)
    with pytest.raises(InvocationError, match="timeout_seconds 0 is not above 0"):
        invocation("test_timeout", timeout_seconds=0)(Undecorated)
