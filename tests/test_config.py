from __future__ import annotations

import pytest

from eventsvc.config import ConfigError, Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.store_url.startswith("sqlite://")
    assert settings.nodes_allow is None
    assert "add" in settings.registry().types()


def test_node_lists_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"EVENTSVC_NODES_ALLOW": "add, integer,multiply", "EVENTSVC_NODES_DENY": "multiply"}
    )
    assert settings.registry().types() == ["add", "integer"]


def test_an_unknown_node_type_in_a_list_is_named() -> None:
    settings = Settings.from_env({"EVENTSVC_NODES_DENY": "multipy"})
    with pytest.raises(ConfigError, match="EVENTSVC_NODES_DENY: unknown node type 'multipy'; "
                                          "did you mean 'multiply'"):  # fmt: skip
        settings.registry()


def test_a_malformed_value_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="EVENTSVC_MAX_EVENT_BYTES"):
        Settings.from_env({"EVENTSVC_MAX_EVENT_BYTES": "lots"})


def test_isolation_limits_and_tracing_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"EVENTSVC_NODE_ISOLATION": "process", "EVENTSVC_NODE_PROCESSES": "3",
         "EVENTSVC_NODE_TIMEOUT_SECONDS": "2.5", "EVENTSVC_SESSION_TIMEOUT_SECONDS": "60",
         "EVENTSVC_TRACING": "false"}
    )  # fmt: skip
    assert settings.node_isolation == "process"
    assert (settings.node_processes, settings.node_timeout_seconds) == (3, 2.5)
    assert (settings.session_timeout_seconds, settings.tracing) == (60, False)
    with pytest.raises(ConfigError, match="EVENTSVC_NODE_TIMEOUT_SECONDS"):
        Settings.from_env({"EVENTSVC_NODE_TIMEOUT_SECONDS": "0"})
