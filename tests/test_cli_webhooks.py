"""``eventsvc webhooks`` on a store: add (with a secret made and shown once, or read from a
file), list, retry, remove, and clear refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from eventsvc.cli import main
from tests.webhooks.helpers import SECRET


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTSVC_WEBHOOKS_ALLOW", "127.0.0.0/8")
    monkeypatch.delenv("EVENTSVC_WEBHOOK_SECRET", raising=False)


def test_add_list_retry_remove(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    code, out, err = run(
        "webhooks", "add", "http://127.0.0.1:9/hook", "--db", db,
        "--filter", "tag=session.*", "--filter", "queue=q", "--secret-file", str(secret_file),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    [added] = json.loads(out)
    assert added["filter"] == {"tags": ["session.*"], "queue_id": "q", "batch_id": None}
    assert "secret" not in added
    code, out, _ = run("webhooks", "list", "--db", db)
    assert out.startswith(f"{added['webhook_id']} active http://127.0.0.1:9/hook")
    assert SECRET not in out
    assert run("webhooks", "retry", added["webhook_id"], "--db", db)[0] == 0
    assert run("webhooks", "remove", added["webhook_id"], "--db", db)[1] == (
        f"removed {added['webhook_id']}\n"
    )
    assert run("webhooks", "list", "--db", db)[1] == ""


def test_a_secret_made_here_is_shown_once(tmp_path: Path) -> None:
    code, out, err = run("webhooks", "add", "http://127.0.0.1:9/", "--db", str(tmp_path / "d"))
    assert code == 0, err
    secret = out.splitlines()[-1]
    assert secret.startswith("whsec_")
    assert "shown only now" in err
    assert secret not in run("webhooks", "list", "--db", str(tmp_path / "d"))[1]


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    code, _, err = run("webhooks", "add", "http://10.1.2.3/", "--db", db, "--secret", SECRET)
    assert code == 2
    assert "private or loopback" in err
    assert "--secret is visible" in err
    code, _, err = run("webhooks", "add", "http://127.0.0.1/", "--db", db, "--filter", "tags=x")
    assert (code, err) == (2, "--filter 'tags=x': expected tag=PATTERN, queue=ID or batch=ID\n")
    code, _, err = run("webhooks", "remove", "wh_nope", "--db", db)
    assert (code, err) == (2, "eventsvc: no webhook 'wh_nope'\n")
