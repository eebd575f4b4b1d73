"""Results as rows: stored and experiment records, lists of them, and their CSV/JSON form.

A record is a plain description of one result (no image bytes); ``RecordList`` turns any list
of them into dicts, a DataFrame or an export file, and ``read_export`` reads such a file back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._durable import read_checked, write_atomic
from ._errors import ValidationError
from ._result import EditResult

if TYPE_CHECKING:
    import pandas as pd

    from ._plan import CostEstimate
    from .widgets import ResultGrid

__all__ = ["ExperimentRecord", "ExperimentResults", "RecordList", "StoredRecord"]

Status = Literal["done", "cached", "failed", "skipped"]


@dataclass(frozen=True)
class StoredRecord:
    """One stored result as ``history()`` and exports describe it (no image bytes)."""

    fingerprint: str
    endpoint: str
    model: str | None
    prompt: str | None
    params: dict[str, Any]
    input_images: tuple[str, ...]
    output_sha256: str
    output_file: str  # absolute path of the image file
    content_type: str
    bytes: int
    width: int | None
    height: int | None
    model_id: str | None
    model_name: str | None
    headers: dict[str, str] = field(repr=False)
    elapsed: float
    estimated_cost: float | None
    is_local: bool
    created_at: float

    @property
    def created(self) -> datetime:
        """When it was recorded, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_at, timezone.utc)

    @property
    def request(self) -> dict[str, Any]:
        """The request summary, shaped like ``EditResult.request``."""
        return {
            "endpoint": self.endpoint, "model": self.model, "prompt": self.prompt,
            "params": dict(self.params), "images": list(self.input_images),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples, plus ``created`` as ISO 8601 for people."""
        out = asdict(self)
        out["input_images"] = list(self.input_images)
        out["created"] = self.created.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredRecord:
        """Inverse of ``to_dict``; also takes CSV rows, where every value is text."""
        kwargs = {f.name: _parse_field(f.name, data.get(f.name)) for f in fields(cls)}
        return cls(**kwargs)

    def to_result(self) -> EditResult:
        """Load the stored image as an ``EditResult`` (checks its hash)."""
        data = read_checked(Path(self.output_file), self.output_sha256)
        if data is None:
            raise FileNotFoundError(
                f"stored image {self.output_file} is missing or damaged; "
                "run the request again in store mode 'refresh' to re-record it"
            )
        return EditResult(
            data=data, content_type=self.content_type, headers=dict(self.headers),
            elapsed=self.elapsed, request=self.request, fingerprint=self.fingerprint,
            estimated_cost=self.estimated_cost, is_local=self.is_local, from_store=True,
            stored_path=self.output_file,
        )


_JSON_FIELDS = {"params", "headers", "input_images"}
_INT_FIELDS = {"bytes", "width", "height"}
_FLOAT_FIELDS = {"elapsed", "estimated_cost", "created_at"}


def _parse_field(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        value = json.loads(value) if isinstance(value, str) else value
        return tuple(value or ()) if name == "input_images" else dict(value or {})
    if value is None or value == "":
        return None
    if name in _INT_FIELDS:
        return int(value)
    if name in _FLOAT_FIELDS:
        return float(value)
    if name == "is_local":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
    return str(value)


@dataclass
class ExperimentRecord:
    """One job of an experiment: what was asked, what happened, and the result if any."""

    index: int
    image: str
    mask: str | None
    prompt: str
    model: str | None
    status: Status
    estimated_cost: float | None
    result: EditResult | None = field(default=None, repr=False)
    error: BaseException | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def spent_usd(self) -> float:
        """Estimated Venice cost of this job's request (0 when cached, failed or skipped)."""
        return (self.estimated_cost or 0.0) if self.status == "done" else 0.0

    @property
    def caption(self) -> str:
        parts = [self.image, self.mask, self.model or "default model"]
        head = " · ".join(p for p in parts if p)
        if self.result is not None:
            tail = self.result.caption()
        elif self.status == "skipped":
            tail = "skipped: over budget"
        else:
            tail = f"FAILED: {_error_text(self.error)}"
        return f"{head} — {self.prompt}\n{tail}"

    def to_dict(self) -> dict[str, Any]:
        res = self.result
        width, height = image_size(res.data) if res else (None, None)  # header only: no decode
        return {
            "index": self.index, "image": self.image, "mask": self.mask, "prompt": self.prompt,
            "model": self.model, "status": self.status, "estimated_cost": self.estimated_cost,
            "spent_usd": self.spent_usd,
            "elapsed": res.elapsed if res else None,
            "model_id": res.model_id if res else None,
            "model_name": res.model_name if res else None,
            "width": width,
            "height": height,
            "is_local": res.is_local if res else None,
            "fingerprint": res.fingerprint if res else None,
            "stored_path": res.stored_path if res else None,
            "error_type": type(self.error).__name__ if self.error else None,
            "error": _error_text(self.error) if self.error else None,
        }


def _error_text(error: BaseException | None) -> str:
    return str(error) if error is not None else ""


class RecordList(list):
    """A list of records (anything with ``to_dict()``) that turns into a pandas DataFrame."""

    def to_dicts(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per record; needs pandas (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_dataframe() needs pandas: pip install pandas (or use .to_dicts())"
            ) from None
        return pd.DataFrame.from_records(self.to_dicts())


class ExperimentResults(RecordList):
    """The records of an experiment in job order, plus its estimate and a contact sheet."""

    def __init__(self, records: Iterable[ExperimentRecord], *, estimate: CostEstimate,
                 columns: int, wall_time: float) -> None:
        super().__init__(records)
        self.estimate = estimate
        self.columns = columns
        self.wall_time = wall_time

    @property
    def results(self) -> list[EditResult]:
        return [r.result for r in self if r.result is not None]

    @property
    def failed(self) -> list[ExperimentRecord]:
        return [r for r in self if r.status == "failed"]

    @property
    def counts(self) -> dict[str, int]:
        """How many jobs ended done, cached, failed and skipped."""
        out = dict.fromkeys(("done", "cached", "failed", "skipped"), 0)
        for record in self:
            out[record.status] += 1
        return out

    @property
    def spent_usd(self) -> float:
        return round(sum(r.spent_usd for r in self), 6)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        local = " (local backend: nothing charged)" if self.estimate.is_local else ""
        return (
            f"{len(self)} jobs: {counts}; estimated spend ${self.spent_usd:.4f}{local}; "
            f"{self.wall_time:.1f}s"
        )

    def contact_sheet(self, columns: int | None = None) -> ResultGrid:
        """A captioned grid (``widgets.ResultGrid``): one card per job, failures included."""
        from .widgets import ResultGrid  # the widgets layer loads only when a sheet is asked for

        items = [(r.result if r.result is not None else _placeholder(), r.caption) for r in self]
        return ResultGrid(items, columns=columns or self.columns)

    def __repr__(self) -> str:
        if not hasattr(self, "wall_time"):  # half-built (e.g. a failing subclass __init__)
            return f"ExperimentResults({len(self)} records)"
        return f"ExperimentResults({self.summary()})"


def _placeholder() -> Any:
    from PIL import Image

    return Image.new("RGB", (256, 256), (225, 225, 225))


def image_size(content: bytes) -> tuple[int | None, int | None]:
    """Width and height from the image header (no pixel decode); Nones when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as img:  # reads the header only
            return img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None


# The export codec: JSON (a list of dicts) or CSV (nested values as JSON text).
def export_format(path: Path, format: str | None) -> str:
    kind = (format or path.suffix.lstrip(".")).lower()
    if kind not in ("json", "csv"):
        raise ValidationError(
            f"cannot tell the export format of {path.name!r}",
            action="name the file .json or .csv, or pass format='json' / 'csv'",
        )
    return kind


def write_export(path: Path, rows: list[dict[str, Any]], columns: list[str], kind: str) -> None:
    """Write ``rows`` (``to_dict()`` output) atomically; CSV has exactly ``columns``."""
    if kind == "json":
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        text = buf.getvalue()
    write_atomic(path, text.encode("utf-8"))


def read_export(path: Path, kind: str) -> list[dict[str, Any]]:
    """The rows of a file ``write_export`` wrote (CSV values come back as text)."""
    text = path.read_text("utf-8")
    rows = json.loads(text) if kind == "json" else list(csv.DictReader(io.StringIO(text)))
    return list(rows)


def stored_columns() -> list[str]:
    """The export columns of ``StoredRecord``: its fields plus ``created``."""
    return [*(f.name for f in fields(StoredRecord)), "created"]


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)  # shortest exact form: floats read back bit-identical
    return "" if value is None else value
