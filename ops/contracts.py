"""Write or check the generated contracts: `python -m ops.contracts [--check]` (`make contracts`).

* contracts/openapi/<name>.json: the OpenAPI document of every service whose
  services/<name>/app.py exists (and of the gateway when gateway/app.py exists and serves one),
  built with `create_app(background=False)`: no database, no NATS, only `app.openapi()`.
* docs/events.md: the table of event types between the GENERATED markers, from the titles and
  descriptions of contracts/events/<type>.schema.json.
* contracts/public/partner-api.v1.json: the public Partner API, merged from the operations the
  services mark `x-roumu-partner` (ops/partner_contract.py).
* contracts/asyncapi/roumu-events.v1.json: the AsyncAPI 3 document of the events (ops/asyncapi.py).
* contracts/public/partner-api.v1.html, events.v1.html, reference.css: the rendered reference the
  gateway serves at /api/v1/partner/docs (ops/reference.py).
* docs/problems.md: one anchor per problem type (shared/problem_types.py), the page the problem
  `type` URIs point at when ROUMU_PROBLEM_TYPE_BASE names its copy.

`--check` writes nothing and exits 1 with a readable summary when a committed file differs from
what the code produces now; tests/contracts/ runs the same comparisons."""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.event_schemas import CONTRACTS_DIR as EVENTS_DIR
from shared.event_schemas import load_schema, schema_files
from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_DIR = ROOT / "contracts" / "openapi"
EVENTS_DOC = ROOT / "docs" / "events.md"
PROBLEMS_DOC = ROOT / "docs" / "problems.md"
GATEWAY = "gateway"
FIX = "run `make contracts` (python -m ops.contracts) and commit the result"

BEGIN = "<!-- BEGIN GENERATED: event types (python -m ops.contracts) -->"
END = "<!-- END GENERATED: event types -->"


# --- OpenAPI -------------------------------------------------------------------------------


def app_names(root: Path = ROOT) -> list[str]:
    """Services with an app.py, in topology order, then the gateway when it has one."""
    names = [s.name for s in SERVICES if (root / "services" / s.name / "app.py").is_file()]
    if (root / GATEWAY / "app.py").is_file():
        names.append(GATEWAY)
    return names


def module_name(name: str) -> str:
    return f"{GATEWAY}.app" if name == GATEWAY else f"services.{name}.app"


def contract_path(name: str) -> Path:
    return OPENAPI_DIR / f"{name}.json"


def build_openapi(name: str) -> dict[str, Any] | None:
    """The OpenAPI document the app serves now; None when the app serves none (openapi_url=None)."""
    module = importlib.import_module(module_name(name))
    factory = module.create_app
    kwargs: dict[str, Any] = {}
    if "background" in inspect.signature(factory).parameters:
        kwargs["background"] = False
    app = factory(**kwargs)
    if getattr(app, "openapi_url", None) is None:
        return None
    doc = app.openapi()
    if not isinstance(doc, dict):
        raise TypeError(f"{name}: app.openapi() returned {type(doc).__name__}, not a dict")
    # A JSON round trip: what is compared is exactly what a file can hold.
    stable: dict[str, Any] = json.loads(json.dumps(doc, default=str))
    return stable


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(doc: dict[str, Any]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        if isinstance(item, dict):
            for method, op in item.items():
                if method in _METHODS:
                    ops[f"{method.upper()} {path}"] = op
    return ops


def _keyed_changes(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [f"{kind} added: {k}" for k in sorted(new.keys() - old.keys())]
    out += [f"{kind} removed: {k}" for k in sorted(old.keys() - new.keys())]
    out += [f"{kind} changed: {k}" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]]
    return out


def openapi_diff(committed: dict[str, Any], current: dict[str, Any], *, context_lines: int = 60) -> list[str]:
    """What changed, operation by operation and schema by schema, then the first lines of a
    unified diff of the two files; [] when they are the same."""
    if committed == current:
        return []
    lines = _keyed_changes("operation", _operations(committed), _operations(current))
    lines += _keyed_changes(
        "schema",
        (committed.get("components") or {}).get("schemas") or {},
        (current.get("components") or {}).get("schemas") or {},
    )
    for key in ("info", "openapi", "tags", "security", "servers"):
        if committed.get(key) != current.get(key):
            lines.append(f"top-level changed: {key}")
    diff = list(difflib.unified_diff(
        render_json(committed).splitlines(), render_json(current).splitlines(),
        "committed", "running app", lineterm="", n=2,
    ))
    if diff:
        lines.append("")
        lines += diff[:context_lines]
        if len(diff) > context_lines:
            lines.append(f"... {len(diff) - context_lines} more diff lines")
    return lines


# --- events table in docs/events.md ------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def events_table(events_dir: Path = EVENTS_DIR) -> str:
    """The markdown table of event types: type (linked to its schema), version, subject ids,
    description; sorted by type."""
    rows = [
        "| event type (= NATS subject) | version | subject ids | description |",
        "| --- | --- | --- | --- |",
    ]
    for event_type, path in schema_files(events_dir).items():
        schema = load_schema(path)
        props = schema.get("properties") or {}
        version = (props.get("version") or {}).get("const", "")
        subject_ids = ", ".join(f"`{k}`" for k in (props.get("subject") or {}).get("required", []))
        title = str(schema.get("title", event_type))
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        description = _cell(str(schema.get("description", "")))
        if title != event_type:
            description = _cell(f"**title {title!r} differs from the file name** {description}")
        rows.append(f"| [`{event_type}`](../{rel}) | {version} | {subject_ids} | {description} |")
    return "\n".join(rows) + "\n"


def render_events_doc(text: str, table: str) -> str:
    """docs/events.md with the section between the markers replaced by `table`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/events.md lacks the markers {BEGIN!r} … {END!r}")
    return text[: start + len(BEGIN)] + "\n\n" + table + "\n" + text[end:]


# --- docs/problems.md -------------------------------------------------------------------


def problems_doc() -> str:
    """docs/problems.md: every problem type, an anchor each (`problems.md#not-found`)."""
    from shared.problem_types import DEFAULT_BASE, PROBLEM_TYPES

    lines = [
        "# Problem types",
        "",
        "<!-- GENERATED by python -m ops.contracts from shared/problem_types.py: do not edit -->",
        "",
        "Every error of Roumu is `application/problem+json` (RFC 9457). Its `type` is",
        f"`<base><slug>`, the base being `ROUMU_PROBLEM_TYPE_BASE` (default `{DEFAULT_BASE}`;",
        "point it at a published copy of this page followed by `#` to make each URI resolve to its",
        "section). Programs switch on the slug; `title` is for people. The contracts list the same",
        "types in the `Problem` schema (`x-roumu-problem-types`).",
        "",
        "| slug | status | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| [`{slug}`](#{slug}) | {status} | {_cell(title)} |"
              for slug, (status, title) in sorted(PROBLEM_TYPES.items())]
    lines.append("")
    for slug, (status, title) in sorted(PROBLEM_TYPES.items()):
        lines += [f'<a id="{slug}"></a>', f"## {slug}", "", f"HTTP {status}: {title}", ""]
    return "\n".join(lines)


def asyncapi_problem() -> str | None:
    from ops import asyncapi

    path = asyncapi.ASYNCAPI_FILE
    if not path.exists():
        return f"{_rel(path)} is missing; {FIX}"
    expected = asyncapi.render(asyncapi.build())
    text = path.read_text(encoding="utf-8")
    if text != expected:
        diff = list(difflib.unified_diff(text.splitlines(), expected.splitlines(), "committed", "generated",
                                         lineterm="", n=1))
        return f"{_rel(path)} differs from the event schemas ({FIX}):\n  " + "\n  ".join(diff[:40])
    return None


def rendered() -> dict[Path, str]:
    """The rendered reference pages, from the committed partner contract and AsyncAPI document."""
    from ops import asyncapi, reference
    from ops.partner_contract import PARTNER_CONTRACT

    partner = json.loads(PARTNER_CONTRACT.read_text(encoding="utf-8"))
    events = json.loads(asyncapi.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    return {reference.REFERENCE_HTML: reference.render_reference(partner),
            reference.EVENTS_HTML: reference.render_events(events), reference.STYLESHEET: reference.CSS}


def rendered_problems() -> list[str]:
    try:
        pages = rendered()
    except (OSError, ValueError, KeyError) as exc:
        return [f"the rendered reference could not be made: {type(exc).__name__}: {exc}"]
    return [f"{_rel(p)} is out of date ({FIX})" for p, text in pages.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text]


def problems_doc_problem() -> str | None:
    if not PROBLEMS_DOC.exists() or PROBLEMS_DOC.read_text(encoding="utf-8") != problems_doc():
        return f"{_rel(PROBLEMS_DOC)} is out of date ({FIX})"
    return None


# --- the whole set ----------------------------------------------------------------------


@dataclass
class Outcome:
    written: list[str]
    problems: list[str]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def openapi_problem(name: str) -> str | None:
    """Why contracts/openapi/<name>.json is not what the app serves now (None when it is)."""
    path = contract_path(name)
    try:
        current = build_openapi(name)
    except Exception as exc:
        return f"{name}: building the app failed: {type(exc).__name__}: {exc}"
    if current is None:
        return f"{_rel(path)} is committed but {name} serves no OpenAPI: delete it" if path.exists() else None
    if not path.exists():
        return f"{_rel(path)} is missing: {name} has an app but no committed contract; {FIX}"
    text = path.read_text(encoding="utf-8")
    committed = json.loads(text)
    diff = openapi_diff(committed, current)
    if diff:
        return f"{_rel(path)} differs from the running {name} app ({FIX}):\n  " + "\n  ".join(diff)
    if text != render_json(current):
        return f"{_rel(path)} is not in the generated layout (sorted keys, indent 2); {FIX}"
    return None


def stale_contracts(root: Path = ROOT) -> list[Path]:
    """Committed OpenAPI files whose app no longer exists."""
    present = set(app_names(root))
    return [p for p in sorted(OPENAPI_DIR.glob("*.json")) if p.stem not in present]


def events_doc_problem() -> str | None:
    if not EVENTS_DOC.exists():
        return f"{_rel(EVENTS_DOC)} is missing"
    text = EVENTS_DOC.read_text(encoding="utf-8")
    try:
        expected = render_events_doc(text, events_table())
    except ValueError as exc:
        return str(exc)
    if text != expected:
        diff = difflib.unified_diff(text.splitlines(), expected.splitlines(), "committed", "generated",
                                    lineterm="", n=0)
        return f"{_rel(EVENTS_DOC)}: the event types table is out of date ({FIX}):\n  " + "\n  ".join(diff)
    return None


def partner_contract_text() -> str:
    """contracts/public/partner-api.v1.json as the services' documents make it now."""
    from ops import partner_contract

    docs = {n: d for n in app_names() if n != GATEWAY and (d := build_openapi(n)) is not None}
    return render_json(partner_contract.build(docs))


def partner_contract_problem() -> str | None:
    from ops.partner_contract import PARTNER_CONTRACT

    try:
        expected = partner_contract_text()
    except Exception as exc:
        return f"{_rel(PARTNER_CONTRACT)}: building it failed: {type(exc).__name__}: {exc}"
    if not PARTNER_CONTRACT.exists():
        return f"{_rel(PARTNER_CONTRACT)} is missing; {FIX}"
    committed = json.loads(PARTNER_CONTRACT.read_text(encoding="utf-8"))
    diff = openapi_diff(committed, json.loads(expected))
    if diff:
        return f"{_rel(PARTNER_CONTRACT)} differs from the services' partner operations ({FIX}):\n  " + \
            "\n  ".join(diff)
    return None


def check() -> Outcome:
    problems = [p for p in (openapi_problem(n) for n in app_names()) if p]
    partner = partner_contract_problem()
    if partner:
        problems.append(partner)
    problems += [f"{_rel(p)}: no app serves it any more; delete it" for p in stale_contracts()]
    problems += [p for p in (events_doc_problem(), problems_doc_problem(), asyncapi_problem()) if p]
    problems += rendered_problems()
    return Outcome([], problems)


def _write_if_changed(path: Path, text: str, written: list[str]) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(_rel(path))


def write() -> Outcome:
    written: list[str] = []
    problems: list[str] = []
    for name in app_names():
        try:
            doc = build_openapi(name)
        except Exception as exc:
            problems.append(f"{name}: building the app failed: {type(exc).__name__}: {exc}")
            continue
        if doc is not None:
            _write_if_changed(contract_path(name), render_json(doc), written)
    problems += [f"{_rel(p)}: no app serves it any more (not deleted: check and remove it)"
                 for p in stale_contracts()]
    from ops.partner_contract import PARTNER_CONTRACT

    try:
        _write_if_changed(PARTNER_CONTRACT, partner_contract_text(), written)
    except Exception as exc:
        problems.append(f"{_rel(PARTNER_CONTRACT)}: building it failed: {type(exc).__name__}: {exc}")
    _write_if_changed(PROBLEMS_DOC, problems_doc(), written)
    from ops import asyncapi

    _write_if_changed(asyncapi.ASYNCAPI_FILE, asyncapi.render(asyncapi.build()), written)
    for page, text in rendered().items():  # after the documents they are made from
        _write_if_changed(page, text, written)
    try:
        text = EVENTS_DOC.read_text(encoding="utf-8")
        _write_if_changed(EVENTS_DOC, render_events_doc(text, events_table()), written)
    except (OSError, ValueError) as exc:
        problems.append(f"{_rel(EVENTS_DOC)}: {exc}")
    return Outcome(written, problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.contracts", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when anything drifted")
    args = parser.parse_args(argv)
    outcome = check() if args.check else write()
    for path in outcome.written:
        print(f"wrote {path}")
    for problem in outcome.problems:
        print(problem, file=sys.stderr)
    if not outcome.problems:
        print("contracts up to date" if args.check else "contracts written")
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
