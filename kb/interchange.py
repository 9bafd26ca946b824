"""The KB exchange format (YAML or JSON): validation with line numbers, and export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kb.errors import BadImportFile
from kb.models import Status, Verdict

SLUG = r"^[a-z0-9][a-z0-9._-]{0,119}$"
LANG = r"^[a-z]{2,3}$"


def _text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://\S+$")
    title: str = ""
    publisher: str = ""
    date: str = ""

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        # YAML reads 2023-08-22 as a date object; keep the ISO text.
        if isinstance(value, dt.date):
            return value.isoformat()
        return value


class TranslationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claim: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    _strip = field_validator("claim", "summary", mode="before")(_text)


class EntryIn(BaseModel):
    """One entry as the exchange format states it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=SLUG)
    claim: str = Field(min_length=1)
    variants: list[str] = []
    verdict: Verdict
    summary: str = Field(min_length=1)
    lang: str = Field(pattern=LANG)
    translations: dict[str, TranslationIn] = {}
    sources: list[SourceIn] = []
    tags: list[str] = []
    appearances: list[str] = []
    status: Status = Status.PUBLISHED

    _strip = field_validator("claim", "summary", mode="before")(_text)

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, value: object) -> object:
        # YAML reads bare false/true as booleans.
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value.strip().lower().replace(" ", "_").replace("-", "_")
        return value

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("a variant is empty")
        return cleaned

    @field_validator("translations")
    @classmethod
    def _langs(cls, value: dict[str, TranslationIn]) -> dict[str, TranslationIn]:
        for lang in value:
            if not lang.isalpha() or not 2 <= len(lang) <= 3 or lang != lang.lower():
                raise ValueError(f"{lang!r} is not a language code such as en, ru, kk")
        return value

    @field_validator("appearances")
    @classmethod
    def _appearances(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) link")
        return value


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """Follow a pydantic error location down the YAML node tree to a line number."""
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((kv for kv in node.value if kv[0].value == key), None)
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _entry_nodes(root: yaml.Node | None) -> list[yaml.Node] | None:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "entries" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
        return None
    if isinstance(root, yaml.SequenceNode):
        return list(root.value)
    return None


def _load(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        # JSON that YAML cannot read (tabs, odd escapes) is still JSON.
        try:
            return json.loads(text), None
        except json.JSONDecodeError as jexc:
            raise BadImportFile(f"{name}{where}: not valid YAML or JSON ({jexc.msg})") from exc


def parse_entries(text: str, name: str = "input") -> list[EntryIn]:
    """Validate a whole file; the first problem raises BadImportFile naming line, entry, field."""
    data, root = _load(text, name)
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        items = data["entries"]
    elif isinstance(data, list):
        items = data
    else:
        raise BadImportFile(f"{name}: expected a list of entries or a mapping with 'entries:'")
    nodes = _entry_nodes(root)
    entries: list[EntryIn] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        node = nodes[index] if nodes is not None and index < len(nodes) else None
        label = item.get("id") if isinstance(item, dict) else None
        who = f"entry {label!r}" if label else f"entry #{index + 1}"
        if not isinstance(item, dict):
            raise BadImportFile(f"{name}{_at(_line_of(node, []))}: {who} is not a mapping")
        try:
            entry = EntryIn.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [p for p in err["loc"] if isinstance(p, str | int)]
            field = ".".join(str(p) for p in loc) or "(entry)"
            raise BadImportFile(
                f"{name}{_at(_line_of(node, loc))}: {who}, field {field!r}: {err['msg']}"
            ) from exc
        if entry.id in seen:
            raise BadImportFile(
                f"{name}{_at(_line_of(node, ['id']))}: {who} repeats the id of entry "
                f"#{seen[entry.id] + 1}"
            )
        seen[entry.id] = index
        entries.append(entry)
    return entries


def _at(line: int | None) -> str:
    return f" line {line}" if line else ""


def read_entries_file(path: Path) -> list[EntryIn]:
    """Read our format or ClaimReview JSON-LD, whichever the file holds."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadImportFile(f"{path}: cannot read ({exc})") from exc
    return read_entries_text(text, str(path))


def read_entries_text(text: str, name: str) -> list[EntryIn]:
    """Our format or ClaimReview JSON-LD, whichever `text` holds; errors name `name`."""
    from kb.claimreview import is_claimreview, parse_claimreview

    if is_claimreview(text):
        return parse_claimreview(text, name)
    return parse_entries(text, name)


def dump_entries(entries: Sequence[EntryIn], fmt: str = "yaml") -> str:
    """Serialise entries in the exchange format, omitting empty optional fields."""
    items = [
        e.model_dump(mode="json", exclude_defaults=True, exclude={"status"})
        | ({"status": e.status.value} if e.status is not Status.PUBLISHED else {})
        | {"verdict": e.verdict.value}
        for e in entries
    ]
    if fmt == "json":
        return json.dumps({"entries": items}, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(
        {"entries": items}, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )
