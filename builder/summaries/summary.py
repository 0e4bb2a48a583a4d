"""Summary files: their canonical form, their JSON Schema, and reading them back.

One file per deployment and complete UTC day, ``summaries/<deployment>/<YYYY>/<date>.json``.
The canonical form (SPEC §5) makes a re-run byte-identical and a change a readable git diff:
UTF-8, 2-space indent, trailing newline, keys in a fixed order, numeric map keys in numeric
order, versions in version order, floats rounded to 4 decimals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from packaging.version import InvalidVersion, Version

from builder.metrics import METRICS, CountBy, CountEach, MeanOf, Metric, Versions

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "proto" / "summary.schema.json"
FLOAT_DIGITS = 4
DEPLOYMENTS = ("prod", "dev")
SOURCES = ("legacy",)  # summaries not counted by the summarizer: see docs/legacy.md


class SummaryError(ValueError):
    """A summary file is missing, unreadable or breaks the schema; the message names it."""


@dataclass(frozen=True)
class Summary:
    """One day of one deployment, as stored in its summary file."""

    date: date
    deployment: str
    systems: int
    persistent_systems: int
    age_count: dict[int, int]
    metrics: dict[str, Any]  # metric key -> value, in the shape of the metric's aggregate
    duplicate_submissions: int | None = None  # POSTs answered "duplicate" (when recorded)
    ignored_submissions: int | None = None  # POSTs answered "ignored" (when recorded)
    source: str | None = None  # where the day came from when not the receiver: "legacy"

    def to_json(self) -> str:
        """The canonical text of this summary's file."""
        return dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "date": self.date.isoformat(),
            "deployment": self.deployment,
            **({"source": self.source} if self.source is not None else {}),
            "systems": self.systems,
            "persistent_systems": self.persistent_systems,
            "age_count": numeric_map(self.age_count),
        }
        for metric in METRICS:
            if metric.key in self.metrics:
                out[metric.key] = canonical_value(metric, self.metrics[metric.key])
        if self.duplicate_submissions is not None:
            out["duplicate_submissions"] = self.duplicate_submissions
        if self.ignored_submissions is not None:
            out["ignored_submissions"] = self.ignored_submissions
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        return cls(
            date=date.fromisoformat(data["date"]),
            deployment=data["deployment"],
            systems=data["systems"],
            persistent_systems=data["persistent_systems"],
            age_count={int(k): v for k, v in data["age_count"].items()},
            metrics={m.key: data[m.key] for m in METRICS if m.key in data},
            duplicate_submissions=data.get("duplicate_submissions"),
            ignored_submissions=data.get("ignored_submissions"),
            source=data.get("source"),
        )


def dumps(data: Mapping[str, Any]) -> str:
    """JSON text in the canonical layout: 2-space indent, UTF-8, trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def canonical_value(metric: Metric, value: Any) -> Any:
    """A metric's value with its maps sorted and floats rounded, as the file stores it."""
    agg = metric.aggregate
    if isinstance(agg, CountBy):
        return numeric_map(value)
    if isinstance(agg, CountEach):
        return {name: numeric_map(value.get(name, {})) for name in agg.fields}
    if isinstance(agg, MeanOf):
        return {f"{name}__avg": rounded(value.get(f"{name}__avg")) for name in agg.fields}
    if isinstance(agg, Versions):
        return {name: version_map(value[name]) for name in sorted(value)}
    raise TypeError(f"unknown aggregate {agg!r}")


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), FLOAT_DIGITS)


def numeric_map(counts: Mapping[Any, int]) -> dict[str, int]:
    """Counts keyed by value, as strings, numbers in numeric order and other text after them."""
    return {str(k): counts[k] for k in sorted(counts, key=value_order)}


def value_order(value: Any) -> tuple[int, float, str]:
    text = str(value)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def version_map(counts: Mapping[str, int]) -> dict[str, int]:
    return {v: counts[v] for v in sorted(counts, key=version_order)}


@cache
def version_order(version: str) -> tuple[Any, ...]:
    """Sort key: PEP 440 order where a version parses, then the rest by their number runs."""
    try:
        return (0, Version(version), version)
    except InvalidVersion:
        runs = re.findall(r"\d+|\D+", version)
        return (1, tuple((0, int(r), "") if r.isdigit() else (1, 0, r) for r in runs), version)


def summary_path(root: Path, deployment: str, day: date) -> Path:
    return root / deployment / f"{day.year:04d}" / f"{day.isoformat()}.json"


def iter_summary_files(root: Path, deployment: str) -> Iterator[Path]:
    """Every summary file of a deployment, oldest first."""
    base = root / deployment
    if not base.is_dir():
        return
    yield from sorted(base.glob("[0-9][0-9][0-9][0-9]/*.json"), key=lambda p: p.name)


def newest_day(root: Path, deployment: str) -> date | None:
    newest = None
    for path in iter_summary_files(root, deployment):
        newest = path
    return None if newest is None else day_of(newest)


def day_of(path: Path) -> date:
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        raise SummaryError(f"{path}: file name is not a date (YYYY-MM-DD.json)") from None


def load(path: Path, deployment: str | None = None) -> Summary:
    """Read and validate one summary file; any problem raises SummaryError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: cannot read summary ({exc})") from None
    problem = first_schema_error(data)
    if problem:
        raise SummaryError(f"{path}: {problem}")
    if data["date"] != path.stem:
        raise SummaryError(f"{path}: holds date {data['date']}, not the one in its name")
    if deployment is not None and data["deployment"] != deployment:
        raise SummaryError(f"{path}: deployment is {data['deployment']!r}, not {deployment!r}")
    return Summary.from_dict(data)


def check_file(path: Path, deployment: str) -> Summary:
    """``load``, plus: the file sits in its year's folder and is byte-for-byte canonical."""
    summary = load(path, deployment)
    if path.parent.name != f"{summary.date.year:04d}":
        raise SummaryError(f"{path}: belongs in the folder {summary.date.year:04d}/")
    if path.read_text(encoding="utf-8") != summary.to_json():
        raise SummaryError(f"{path}: not in canonical form (key order, sorting, indent, newline)")
    return summary


def load_all(root: Path, deployment: str) -> list[Summary]:
    return [load(path, deployment) for path in iter_summary_files(root, deployment)]


def first_schema_error(data: Any) -> str | None:
    """The first way ``data`` breaks the summary schema, as a sentence, or None.

    A compiled validator answers the common case (a valid file) quickly; jsonschema, which is
    slower but says exactly what is wrong, runs only on files that fail.
    """
    try:
        _compiled()(data)
        return None
    except fastjsonschema.JsonSchemaException:
        pass
    from jsonschema import Draft202012Validator

    reference = Draft202012Validator(committed_schema())
    errors = sorted(reference.iter_errors(data), key=lambda e: e.path)
    if not errors:  # the two validators disagree: trust the reference implementation
        return None
    error = errors[0]
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"schema: at {where}: {error.message}"


@cache
def _compiled() -> Callable[[Any], Any]:
    """The committed schema compiled to Python; it only uses keywords that mean the same in
    draft 7."""
    schema = {**committed_schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(schema)


@cache
def committed_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


COUNTS = {
    "type": "object",
    "propertyNames": {"minLength": 1},
    "additionalProperties": {"type": "integer", "minimum": 0},
}
NUMERIC_COUNTS = {**COUNTS, "propertyNames": {"pattern": "^(0|[1-9][0-9]*)$"}}


def schema() -> dict[str, Any]:
    """The JSON Schema of summary files, generated from METRICS (``make schema`` writes it)."""
    count = {"type": "integer", "minimum": 0}
    properties: dict[str, Any] = {
        "schema_version": {"const": SCHEMA_VERSION},
        "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "deployment": {"enum": list(DEPLOYMENTS)},
        "systems": count,
        "persistent_systems": count,
        "age_count": NUMERIC_COUNTS,
    }
    for metric in METRICS:
        properties[metric.key] = {"description": metric.title, **_value_schema(metric)}
    properties["duplicate_submissions"] = {**count, "description": "POSTs answered duplicate"}
    properties["ignored_submissions"] = {**count, "description": "POSTs answered ignored"}
    properties["source"] = {
        "enum": list(SOURCES),
        "description": "legacy: imported from analytics.pulpproject.org (docs/legacy.md)",
    }
    required = list(properties)[:6] + [m.key for m in METRICS if m.required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/pulp/pulp-analytics/proto/summary.schema.json",
        "title": "Pulp analytics daily summary",
        "description": "One complete UTC day of one deployment. Generated from builder/metrics.py.",
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _value_schema(metric: Metric) -> dict[str, Any]:
    agg = metric.aggregate
    if isinstance(agg, CountBy):
        return COUNTS
    if isinstance(agg, CountEach):
        return _object({name: COUNTS for name in agg.fields})
    if isinstance(agg, MeanOf):
        mean = {"type": ["number", "null"], "minimum": 0}
        return _object({f"{name}__avg": mean for name in agg.fields})
    versions = {"type": "object", "additionalProperties": COUNTS}
    return versions


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


if __name__ == "__main__":  # make schema
    print(dumps(schema()), end="")
