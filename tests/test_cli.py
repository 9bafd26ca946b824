"""The `rumorbot` command line, run in-process on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

KB = """\
entries:
  - id: heating-ban
    claim: "Germany bans every gas heating system from next year"
    variants: ["Ab nächstem Jahr sind alle Gasheizungen in Deutschland verboten"]
    verdict: misleading
    summary: "The law applies to newly installed heating systems only."
    lang: en
    sources: [{url: "https://correctiv.org/faktencheck/heizung", title: "Heizungsgesetz", publisher: "Correctiv"}]
  - id: tenge-1000
    claim: "The tenge will fall to 1000 per dollar on Monday"
    verdict: unproven
    summary: "The National Bank has announced nothing of the kind."
    lang: en
"""


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("X_API_KEY", raising=False)
    return db_url


def test_check_answers_from_the_seed_kb_on_first_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "check",
                "Казахстан тайно отправляет танки и бронетехнику в Россию, "
                "вот видео колонны на границе",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("❌ Неправда")
    assert "inform.kz" in out


def test_check_prints_html_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "check",
                "--html",
                "--lang",
                "de",
                "Kazakhstan is secretly sending tanks and armoured vehicles to Russia by train",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("<b>❌ Falsch</b>")


def test_check_says_plainly_when_it_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "The new bakery on Abay street sells the best croissants in town"]) == 0
    assert "not found this in our knowledge base" in capsys.readouterr().out


def test_import_then_match_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(KB, encoding="utf-8")
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps(
            {
                "id": 1,
                "text": "Stimmt es? Ab nächstem Jahr werden alle Gasheizungen in "
                "Deutschland verboten, auch die alten!",
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b",
                "text": "Who wants to join our football match on Saturday at the central park?",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert main(["kb", "import", str(kb)]) == 0
    assert "2 new" in capsys.readouterr().out
    assert main(["match", "--jsonl", str(posts), "--top", "2"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["id"] == 1 and first["match"] == "heating-ban" and first["decision"] == "answer"
    assert [c["id"] for c in first["candidates"]] == ["heating-ban", "tenge-1000"]
    assert isinstance(first["score"], float)
    assert second["id"] == "b" and second["match"] is None and second["decision"] == "none"


def test_export_round_trips_through_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(KB, encoding="utf-8")
    assert main(["kb", "import", str(kb)]) == 0
    for fmt in ("yaml", "json", "claimreview"):
        out = tmp_path / f"out.{fmt}"
        assert main(["kb", "export", "--format", fmt, "-o", str(out)]) == 0
        capsys.readouterr()
        assert main(["kb", "import", str(out)]) == 0
        assert "0 new, 0 updated, 2 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["match", "--jsonl", "missing.jsonl"], "cannot read missing.jsonl"),
        (["kb", "show", "nope"], "no entry with id 'nope'"),
        (["check", ""], "give the post to check"),
        (["run"], "set TELEGRAM_BOT_TOKEN"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_jsonl_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": 1, "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    assert main(["match", "--jsonl", str(posts)]) == 2
    assert "posts.jsonl line 2" in capsys.readouterr().err


def test_bad_import_file_names_the_line_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(KB.replace("verdict: unproven", "verdict: dubious"), encoding="utf-8")
    assert main(["kb", "import", str(kb)]) == 2
    assert "kb.yaml line 11: entry 'tenge-1000', field 'verdict'" in capsys.readouterr().err
    assert main(["kb", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_bad_database_url_is_explained(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x/y")
    assert main(["kb", "list"]) == 2
    assert "DATABASE_URL must start with sqlite:/// or postgresql://" in capsys.readouterr().err
