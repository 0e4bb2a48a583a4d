"""Summary files: their canonical form, their JSON Schema, and reading them back.

One file per deployment and complete UTC day, ``summaries/<deployment>/<YYYY>/<date>.json``.
The canonical form (SPEC §5) makes a re-run byte-identical and a change a readable git diff:
UTF-8, 2-space indent, trailing newline, keys in a fixed order, numeric map keys in numeric
order, versions in version order, floats rounded to 4 decimals.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from packaging.version import InvalidVersion, Version

from builder import buckets
from builder.components import OTHER
from builder.metrics import (
    METRICS,
    CountBuckets,
    CountBy,
    CountEach,
    MeanOf,
    Metric,
    Versions,
    VersionsAlongside,
)
from builder.summaries.publish import DEFAULT_MIN_COUNT, describe, first_publishing_error

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "proto" / "summary.schema.json"
FLOAT_DIGITS = 4
DEPLOYMENTS = ("prod", "dev")
SOURCES = ("legacy",)  # summaries not counted by the summarizer: see docs/legacy.md
# No system can have reported before this day: Pulp did not exist yet. It bounds the ages a
# summary may hold (an age is days since the system was first seen), so a corrupt age key cannot
# make the site draw millions of points.
EARLIEST_DAY = date(2000, 1, 1)
PROBLEM_CHARS = 300  # a problem quotes at most this much of a file's content


class SummaryError(ValueError):
    """A summary file is missing, unreadable or breaks the schema; the message names it."""


class UnwritableSummary(SummaryError):
    """A summary that breaks a rule (``problem``), refused before it was written to ``path``."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: not written: {problem}")
        self.problem = problem


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
    if isinstance(agg, Versions | VersionsAlongside):
        return {name: version_map(value[name]) for name in sorted(value)}
    if isinstance(agg, CountBuckets):
        return {name: bucket_map(value.get(name, {})) for name in agg.fields}
    raise TypeError(f"unknown aggregate {agg!r}")


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), FLOAT_DIGITS)


def numeric_map(counts: Mapping[Any, int]) -> dict[str, int]:
    """Counts keyed by value, as strings, numbers in numeric order and other text after them."""
    return {str(k): counts[k] for k in sorted(counts, key=value_order)}


NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DIGIT_RUNS = re.compile(r"[0-9]+|[^0-9]+")
DATE_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\.json")


def value_order(value: Any) -> tuple[int, float, str]:
    """Sort key: plain decimal numbers in numeric order, then any other text in text order.

    Total on every string: ``nan``, ``inf``, ``1e3`` or digits of other scripts sort as text.
    """
    text = str(value)
    if NUMBER.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return (0, number, text)
    return (1, 0.0, text)


def bucket_map(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts per bucket, lowest bucket first, ``"(other)"`` last."""
    listed = {b.key: n for b, n in buckets.ordered(counts)}
    return listed | ({OTHER: counts[OTHER]} if OTHER in counts else {})


def version_map(counts: Mapping[str, int]) -> dict[str, int]:
    return {v: counts[v] for v in sorted(counts, key=version_order)}


@cache
def version_order(version: str) -> tuple[Any, ...]:
    """Sort key: PEP 440 order where a version parses, then the rest by their runs of digits.

    Total on every string and never raising: only ASCII digits count as numbers (``1²`` or
    ``①`` are text), and runs of digits are compared without converting them to ``int``, which
    refuses more than 4300 digits.
    """
    try:
        return (0, Version(version), version)
    except (InvalidVersion, ValueError):  # ValueError: a release number too long for int()
        runs = DIGIT_RUNS.findall(version)
        return (1, tuple(_run_order(run) for run in runs), version)


def _run_order(run: str) -> tuple[int, int, str]:
    """A run of ASCII digits by its numeric value (length, then digits), text after numbers."""
    if run[0].isascii() and run[0].isdigit():
        digits = run.lstrip("0")
        return (0, len(digits), digits)
    return (1, 0, run)


def summary_path(root: Path, deployment: str, day: date) -> Path:
    return root / deployment / f"{day.year:04d}" / f"{day.isoformat()}.json"


def iter_summary_files(root: Path, deployment: str) -> list[Path]:
    """Every summary file of a deployment, oldest first.

    Anything in a year folder named ``*.json`` must be a summary file: a stray file, a folder
    or a link there raises SummaryError naming it instead of being taken for a day.
    """
    base = root / deployment
    if not base.is_dir():
        return []
    paths = sorted(base.glob("[0-9][0-9][0-9][0-9]/*.json"), key=lambda p: (p.name, str(p)))
    for path in paths:
        check_path(path)
    return paths


def newest_day(root: Path, deployment: str) -> date | None:
    paths = iter_summary_files(root, deployment)
    return day_of(paths[-1]) if paths else None


def day_of(path: Path) -> date:
    """The day in a summary file's name; SummaryError for any other name."""
    if DATE_NAME.fullmatch(path.name):
        try:
            return date.fromisoformat(path.stem)
        except ValueError:  # 2026-02-30
            pass
    raise SummaryError(f"{path}: file name is not a date (YYYY-MM-DD.json)")


def check_path(path: Path) -> date:
    """The day a summary file's path names; a link, a folder, a name that is no date or a file
    in another year's folder raises SummaryError naming it."""
    if path.is_symlink():
        raise SummaryError(f"{path}: a symbolic link, not a summary file")
    if not path.is_file():
        raise SummaryError(f"{path}: not a regular file")
    day = day_of(path)
    if path.parent.name != f"{day.year:04d}":
        raise SummaryError(f"{path}: belongs in the folder {day.year:04d}/")
    return day


def parse(text: str) -> Any:
    """JSON as RFC 8259 defines it: no NaN or Infinity, no number too large for a double and no
    key twice in one object (Python's json module accepts all three)."""
    return json.loads(
        text,
        parse_constant=_no_constant,
        parse_float=_finite_float,
        object_pairs_hook=_unique_keys,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:80]!r}")
        out[key] = value
    return out


def load(path: Path, deployment: str | None = None) -> Summary:
    """Read and validate one summary file; any problem raises SummaryError naming the file.

    ``check-summaries`` and ``build`` both read summaries through here, so they accept and
    refuse the same files, including any that publishes what SPEC §8 forbids (an unreviewed
    component name, a count below the deployment's minimum).
    """
    check_path(path)
    try:
        data = parse(path.read_text(encoding="utf-8"))
        problem = first_problem(data, path)
    except RecursionError:
        raise SummaryError(f"{path}: nested too deeply to be a summary") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise SummaryError(f"{path}: cannot read summary ({_short(str(exc))})") from None
    if problem:
        raise SummaryError(f"{path}: {_short(problem)}")
    if deployment is not None and data["deployment"] != deployment:
        raise SummaryError(f"{path}: deployment is {data['deployment']!r}, not {deployment!r}")
    return Summary.from_dict(data)


def first_problem(data: Any, path: Path) -> str | None:
    """The first rule a parsed summary breaks, as a file at ``path``: the schema, the content
    the schema cannot check, publishing (SPEC §8), then agreement between its metrics. The
    readers apply it to every file, and the writers to every file before it is written."""
    return (
        first_schema_error(data)
        or first_content_error(data, path)
        or first_publishing_error(data)
        or first_disagreement(data)
    )


def _short(text: str) -> str:
    """One line of at most PROBLEM_CHARS characters."""
    line = " ".join(text.split())
    return line if len(line) <= PROBLEM_CHARS else line[: PROBLEM_CHARS - 1] + "…"


def utc_today() -> date:
    """Today's date in UTC: every day before it has ended."""
    return datetime.now(UTC).date()


def first_content_error(data: Mapping[str, Any], path: Path) -> str | None:
    """What the schema cannot say about a schema-valid summary that would still break the site:
    the date in the file is not the one in its name or is not a day that has ended (today's is
    not), an integer
    written as a float (``40.0``), an age older than EARLIEST_DAY allows."""
    if data["date"] != path.stem:
        return f"holds date {data['date']}, not the one in its name"
    day = date.fromisoformat(data["date"])
    if not EARLIEST_DAY <= day < utc_today():
        return (
            f"date {day} is not a day between {EARLIEST_DAY} and yesterday (UTC): only a day"
            " that has ended is summarized"
        )
    where = _float_for_integer(data, committed_schema(), "")
    if where is not None:
        return f"at {where or '(top level)'}: an integer is written as a float"
    oldest = (day - EARLIEST_DAY).days
    too_old = [age for age in data["age_count"] if len(age) > 7 or int(age) > oldest]
    if too_old:
        return (
            f"age_count: age {too_old[0][:20]} is impossible (a system first seen on"
            f" {EARLIEST_DAY} would be {oldest} days old)"
        )
    for metric in METRICS:
        if metric.key in data:
            problem = _metric_content_error(metric, data)
            if problem:
                return problem
    return None


def _metric_content_error(metric: Metric, data: Mapping[str, Any]) -> str | None:
    """What a metric's own shape rules out: buckets that are not whole fixed buckets or that
    overlap; a component counted by its own version."""
    agg, value = metric.aggregate, data[metric.key]
    if isinstance(agg, CountBuckets):
        for name, counts in value.items():
            problem = _bucket_error(counts, agg.exact)
            if problem:
                return f"at {metric.key}/{name}: {problem}"
    if isinstance(agg, VersionsAlongside) and agg.of in value:
        return f"at {metric.key}/{agg.of}: {agg.of} is not counted by its own version"
    return None


def first_disagreement(data: Mapping[str, Any]) -> str | None:
    """Two metrics of a file that count the same systems differently: per component, the
    core versions among its systems add up to its versions. Checked after the publishing
    rules, so that a private name or a small count is named first."""
    for metric in METRICS:
        agg = metric.aggregate
        if isinstance(agg, VersionsAlongside) and metric.key in data:
            problem = _alongside_total_error(metric.key, agg, data[metric.key], data)
            if problem:
                return problem
    return None


def _bucket_error(counts: Mapping[str, int], exact: int) -> str | None:
    listed = [key for key in counts if key != OTHER]
    for key in listed:
        try:
            bucket = buckets.parse(key)
        except ValueError as exc:
            return str(exc)
        if not buckets.is_fixed_range(bucket, exact):
            return f"bucket {key} does not start and end where the fixed buckets do"
    overlap = buckets.first_overlap(buckets.parse(key) for key in listed)
    if overlap is not None:
        return f"buckets {overlap[0].key} and {overlap[1].key} overlap"
    return None


def _alongside_total_error(
    key: str, agg: VersionsAlongside, value: Mapping[str, Mapping[str, int]], data: Any
) -> str | None:
    """Per named component other than ``agg.of``, its systems add up to those of every
    versions map of the same field (a component missing from one counts none there)."""
    for other in METRICS:
        if not (isinstance(other.aggregate, Versions) and other.aggregate.path == agg.path):
            continue
        versions = data.get(other.key, {})
        for name in sorted(value.keys() | versions.keys()):
            if name in (OTHER, agg.of):
                continue
            here, there = (sum(m.get(name, {}).values()) for m in (value, versions))
            if here != there:
                return (
                    f"at {key}/{name[:80]}: {here} systems in all, but {other.key} counts"
                    f" {there} running {name[:80]}"
                )
    return None


def _float_for_integer(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    """The path of the first value the schema types as an integer but that is a float."""
    if schema.get("type") == "integer":
        return where if isinstance(value, float) else None
    if not isinstance(value, dict):
        return None
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        child = properties.get(key, extra)
        if isinstance(child, dict):
            found = _float_for_integer(item, child, f"{where}/{key}".lstrip("/"))
            if found is not None:
                return found
    return None


def check_file(path: Path, deployment: str) -> Summary:
    """``load``, plus: the file is byte-for-byte canonical."""
    summary = load(path, deployment)
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
BUCKET_COUNTS = {**COUNTS, "propertyNames": {"pattern": buckets.KEY_PATTERN}}


def schema() -> dict[str, Any]:
    """The JSON Schema of summary files, generated from METRICS (``make schema`` writes it)."""
    count = {"type": "integer", "minimum": 0}
    properties: dict[str, Any] = {
        "schema_version": {"const": SCHEMA_VERSION},
        "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "deployment": {"enum": list(DEPLOYMENTS)},
        "systems": count,
        "persistent_systems": count,
        "age_count": {
            "description": "Every system that reported, by age in days (days since its first"
            " report); exact: an age names no component or version, and the ages add up to"
            " systems.",
            **NUMERIC_COUNTS,
        },
    }
    for metric in METRICS:
        described = f"{metric.title}. {describe(metric)}"
        properties[metric.key] = {"description": described, **_value_schema(metric)}
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
        "description": (
            "One complete UTC day of one deployment. Generated from builder/metrics.py."
            " Published data holds only reviewed component names and no small counts (SPEC §8):"
            ' in the metrics, every count other than one keyed "(other)" is at least the'
            f" deployment's minimum ({DEFAULT_MIN_COUNT['prod']} on prod,"
            f" {DEFAULT_MIN_COUNT['dev']} on dev), as each metric's description says;"
            " check-summaries and build refuse a file that breaks this. systems,"
            " persistent_systems, age_count and the submission counters are exact."
        ),
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
    if isinstance(agg, CountBuckets):
        return _object({name: BUCKET_COUNTS for name in agg.fields})
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
