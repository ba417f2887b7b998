from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from eventsvc import schemas


def test_committed_schemas_match_the_code() -> None:
    assert schemas.drifted() == [], "run: python -m eventsvc.schemas"


def test_schemas_are_valid_json_schema() -> None:
    for text in schemas.render().values():
        jsonschema.Draft202012Validator.check_schema(json.loads(text))


def test_a_changed_file_is_reported(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    (tmp_path / "events.json").write_text("{}\n")
    assert schemas.drifted(tmp_path) == ["events.json"]
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1


def test_stored_events_validate_against_the_event_schema() -> None:
    from eventsvc.events import CODEC
    from eventsvc.testing import batch_enqueued, session_started

    schema = json.loads(schemas.render()["events.json"])
    for event in (batch_enqueued(), session_started()):
        jsonschema.validate(json.loads(CODEC.encode(event)), schema)


def test_invocation_schemas_carry_class_required_output_and_metadata() -> None:
    from eventsvc.invocations import builtin_registry

    registry = builtin_registry()
    definitions = json.loads(schemas.render()["invocations.json"])["$defs"]
    for cls in registry.invocations():
        schema = definitions[cls.__name__]
        assert schema["class"] == "invocation", cls
        assert {"type", "id"} <= set(schema["required"]), cls
        assert schema["output"] == {"$ref": f"#/$defs/{cls.meta.output.__name__}"}
        assert cls.meta.output.__name__ in definitions
        assert schema["title"] == cls.meta.title
        assert schema["tags"] == list(cls.meta.tags)
        assert schema["category"] == cls.meta.category
        assert schema["version"] == cls.meta.version
        assert schema["classification"] == cls.meta.classification.value
        assert schema["properties"]["type"]["const"] == cls.meta.type
    for output in registry.outputs():
        schema = definitions[output.__name__]
        assert schema["class"] == "output", output
        assert set(schema["required"]) == {"type", *output.output_fields()}, output


def test_nodes_registered_elsewhere_stay_out_of_the_schemas() -> None:
    from eventsvc.invocations import BaseInvocation, invocation
    from eventsvc.invocations.context import InvocationContext
    from eventsvc.invocations.primitives import IntegerOutput

    @invocation("test_schema_leak")
    class Leak(BaseInvocation):
        def invoke(self, context: InvocationContext) -> IntegerOutput:
            return IntegerOutput(value=0)

    assert "test_schema_leak" not in schemas.render()["invocations.json"]
    assert schemas.drifted() == []


def test_the_openapi_document_is_valid_and_carries_every_node() -> None:
    from openapi_spec_validator import validate

    from eventsvc.invocations import builtin_registry

    document = json.loads(schemas.render()["openapi.json"])
    validate(document)
    components = document["components"]["schemas"]
    registry = builtin_registry()
    output_map = components["InvocationOutputMap"]["properties"]
    for cls in registry.invocations():
        schema = components[cls.__name__]
        assert schema["class"] == "invocation"
        assert {"type", "id"} <= set(schema["required"])
        reference = f"#/components/schemas/{cls.meta.output.__name__}"
        assert schema["output"] == {"$ref": reference}
        assert output_map[cls.meta.type] == {"$ref": reference}
    for output in registry.outputs():
        assert components[output.__name__]["class"] == "output"
    assert "/api/v1/events" in document["paths"]


@pytest.mark.anyio
async def test_the_app_serves_the_committed_document() -> None:
    import httpx

    from eventsvc.api import create_app

    transport = httpx.ASGITransport(app=create_app(None))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        served = (await client.get("/openapi.json")).json()
    assert served == json.loads((schemas.SCHEMAS_DIR / "openapi.json").read_text())


@pytest.mark.parametrize(
    ("document", "prefix"),
    [("openapi.json", "#/components/schemas/"), ("invocations.json", "#/$defs/")],
)
def test_every_node_is_a_concrete_type_in_a_discriminated_union(document: str, prefix: str) -> None:
    schema = json.loads((schemas.SCHEMAS_DIR / document).read_text())
    definitions = schema["components"]["schemas"] if "components" in schema else schema["$defs"]
    assert not {"BaseInvocation", "BaseInvocationOutput"} & set(definitions)
    assert "BaseInvocation" not in json.dumps(schema)
    nodes = {name: d for name, d in definitions.items() if d.get("class") == "invocation"}
    union = definitions["AnyInvocation"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(mapping.values()) == sorted(prefix + name for name in nodes)
    assert sorted(r["$ref"] for r in union["oneOf"]) == sorted(mapping.values())
    for name, node in nodes.items():
        tag = node["properties"]["type"]["const"]
        assert mapping[tag] == prefix + name
        assert {"type", "id"} <= set(node["required"])
    if document == "openapi.json":
        graph_nodes = definitions["Graph"]["properties"]["nodes"]["additionalProperties"]
        assert graph_nodes == {"$ref": prefix + "AnyInvocation"}
        detail = definitions["SessionDetail"]["properties"]
        assert {"$ref": prefix + "Graph"} in detail["graph"]["anyOf"]
        assert detail["results"]["additionalProperties"] == {"$ref": prefix + "AnyInvocationOutput"}
