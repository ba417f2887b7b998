from __future__ import annotations

import types

import eventsvc


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(eventsvc).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(eventsvc.__all__) - {"__version__"} == public
    assert len(eventsvc.__all__) == len(set(eventsvc.__all__))


def test_every_exported_name_resolves() -> None:
    for name in eventsvc.__all__:
        assert getattr(eventsvc, name) is not None, name
