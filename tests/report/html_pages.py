"""A small independent reader of the report's HTML (stdlib html.parser only)."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser


class ReportParser(HTMLParser):
    """Collects tables by id (rows of cell strings), img data URIs, finding texts, JSON payload."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.findings: list[str] = []
        self.json_payload = ""
        self.attrs_seen: list[tuple[str, str, str]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._finding_depth = 0
        self._in_finding_p = False
        self._text: list[str] = []
        self._skip: str | None = None
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for k, v in a.items():
            self.attrs_seen.append((tag, k, v))
        if tag == "table":
            self._table = a.get("id", f"anon{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images[a.get("data-figure", "")] = a.get("src", "")
        elif tag == "div" and a.get("class") == "finding":
            self._finding_depth = 1
        elif tag == "p" and self._finding_depth:
            self._in_finding_p = True
            self._text = []
        elif tag in ("div", "span") and a.get("class") == "skip":
            self._skip = a.get("data-figure", "")
            self._text = []
        elif tag == "script":
            self._script = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "p" and self._in_finding_p:
            self.findings.append("".join(self._text))
            self._in_finding_p = False
            self._finding_depth = 0
        elif tag in ("div", "span") and self._skip is not None:
            self.skips[self._skip] = "".join(self._text)
            self._skip = None
        elif tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_finding_p or self._skip is not None:
            self._text.append(data)
        if self._script:
            self.json_payload += data


def parse(text: str) -> ReportParser:
    p = ReportParser()
    p.feed(text)
    return p


def table_records(rows: list[list[str]]) -> list[dict[str, str]]:
    head, *body = rows
    return [dict(zip(head, r, strict=True)) for r in body]


def decode_png(uri: str) -> bytes:
    m = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", uri)
    assert m, uri[:60]
    data = base64.b64decode(m.group(1), validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def findings_json(p: ReportParser) -> list[dict]:
    return json.loads(p.json_payload)["findings"]


def claims_json(p: ReportParser) -> list[dict]:
    return json.loads(p.json_payload)["claims"]


def external_references(p: ReportParser) -> list[tuple[str, str, str]]:
    """Attributes that would make the browser fetch something."""
    bad = []
    for tag, k, v in p.attrs_seen:
        if k in ("src", "href", "action", "srcset", "poster", "data") and not v.startswith(
            ("data:", "#")
        ):
            bad.append((tag, k, v))
        if tag in ("link", "iframe", "object", "embed"):
            bad.append((tag, k, v))
    return bad
