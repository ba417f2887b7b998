from __future__ import annotations

import json
from pathlib import Path

import jsonschema

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
