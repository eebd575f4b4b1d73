"""Results as rows: stored and experiment records, lists of them, and their CSV/JSON form.

A record is a plain description of one result (no image bytes); ``RecordList`` turns any list
of them into dicts, a DataFrame or an export file, and ``read_export`` reads such a file back.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

from .. import _money
from .._exceptions import ValidationError
from .._result import EditResult
from ._durable import write_atomic
from ._files import checked_image, inside

if TYPE_CHECKING:
    import pandas as pd

    from .._experiment._plan import CostEstimate
    from .._respect import MaskRespect
    from ..widgets import ResultGrid
    from ._store import ResultStore

__all__ = [
    "STATUSES",
    "ExperimentRecord",
    "ExperimentResults",
    "RecordList",
    "Status",
    "StoredRecord",
    "compact_json",
    "export_format",
    "image_size",
    "read_export",
    "result_of",
    "stored_columns",
    "write_export",
]

Status = Literal["done", "cached", "failed", "skipped"]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class StoredRecord:
    """One stored result as ``history()`` and exports describe it (no image bytes).

    Attributes:
        fingerprint: The request's identity.
        endpoint: The API path.
        model: The model asked for.
        prompt: The prompt.
        params: The other request parameters.
        input_images: SHA-256 of each input image.
        output_sha256: SHA-256 of the returned image.
        output_file: The image file in the store.
        content_type: Its MIME type.
        bytes: Its size.
        width: Its width.
        height: Its height.
        model_id: The model that answered.
        model_name: Its display name.
        headers: The response headers kept.
        elapsed: Seconds the request took.
        estimated_cost: USD at Venice prices.
        is_local: The local backend answered.
        created_at: When it was stored (Unix seconds; `created` is the datetime).
        repeat: Which repeat of an experiment job.
        variables: The prompt template's values.
        picked: Picked by a person.
        rating: 1-5, or None.
        note: A person's note, or None.
    """

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
    repeat: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    picked: bool = False
    rating: int | None = None
    note: str | None = None

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
        """Load the stored image as an ``EditResult``, checked before it is decoded: a store's
        own content-addressed file (``…/images/ab/cd/<sha256>.<ext>``, no link on the way), of
        its hash, a PNG, JPEG or WebP within Venice's pixel limit (else ``ValidationError``)."""
        path = Path(self.output_file)
        where = f"stored image {self.output_file}"
        digest = self.output_sha256
        shape = (path.parent.parent.parent.name, path.parent.parent.name, path.parent.name,
                 path.stem, path.suffix)
        if len(path.parts) < 5 or shape != ("images", digest[:2], digest[2:4], digest,
                                            path.suffix) or path.suffix not in _IMAGE_SUFFIXES:
            raise ValidationError(
                f"{where} is not a store's image file named by its hash",
                action="load results through their store (store.history(), store.result())")
        relative = "/".join(path.parts[-4:])
        data = checked_image(inside(path.parents[3], relative, where=where), digest, where=where)
        if data is None:
            raise FileNotFoundError(
                f"stored image {self.output_file} is missing or damaged; "
                "run the request again in store mode 'refresh' to re-record it"
            )
        return result_of(self, data)

def result_of(record: StoredRecord, data: bytes) -> EditResult:
    """A record's result around image bytes already checked."""
    return EditResult(
        data=data, content_type=record.content_type, headers=dict(record.headers),
        elapsed=record.elapsed, request=record.request, fingerprint=record.fingerprint,
        estimated_cost=record.estimated_cost, is_local=record.is_local, from_store=True,
        stored_path=record.output_file,
    )


_IMAGE_SUFFIXES = (".png", ".jpg", ".webp")
_JSON_FIELDS = {"params", "headers", "input_images", "variables"}
_INT_FIELDS = {"bytes", "width", "height", "rating"}
_FLOAT_FIELDS = {"elapsed", "estimated_cost", "created_at"}
_BOOL_FIELDS = {"is_local", "picked"}


def _parse_field(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        value = json.loads(value) if isinstance(value, str) and value else value
        return tuple(value or ()) if name == "input_images" else dict(value or {})
    if name in _BOOL_FIELDS:
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
    if name == "repeat":  # absent from exports older than repeats
        return int(value or 0)
    if value is None or value == "":
        return None
    if name in _INT_FIELDS:
        return int(value)
    if name in _FLOAT_FIELDS:
        return float(value)
    return str(value)


@dataclass
class ExperimentRecord:
    """One job of an experiment: what was asked, what happened, and the result if any.

    Attributes:
        index: The job's position.
        image: The image's name.
        mask: The mask's name (None: unmasked).
        prompt: The prompt sent.
        model: The model asked for.
        status: `done`, `cached`, `failed` or `skipped`.
        estimated_cost: USD at Venice prices.
        result: The `EditResult` (None unless done or cached).
        error: Why it failed.
        variables: The prompt template's values.
        template: The prompt before `variables` filled it.
        repeat: Which repeat.
        respect: For masked jobs: how much changed inside and outside the mask.
        picked: Picked (kept in the store).
        rating: 1-5, or None.
        note: A note, or None.
    """

    index: int
    image: str
    mask: str | None
    prompt: str
    model: str | None
    status: Status
    estimated_cost: float | None
    result: EditResult | None = field(default=None, repr=False)
    error: BaseException | None = field(default=None, repr=False)
    variables: dict[str, str] = field(default_factory=dict)  # the prompt template's values
    template: str | None = None  # the prompt before ``variables`` filled it (None: no vars)
    repeat: int = 0
    respect: MaskRespect | None = None  # masked jobs: changes inside / outside the mask
    picked: bool = False  # marks a person set (``ExperimentResults.mark``), kept in the store
    rating: int | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def value(self, dimension: str) -> Any:
        """This job's value along one dimension of the grid: image, mask, prompt, model,
        repeat, or a prompt variable's name.

        Args:
            dimension: image, mask, prompt, model, repeat, or a prompt variable's name.
        """
        if dimension in self.variables:
            return self.variables[dimension]
        if dimension in _DIMENSIONS:
            return getattr(self, dimension)
        known = ", ".join([*_DIMENSIONS, *self.variables])
        raise ValidationError(f"no dimension {dimension!r}", field="rows/columns",
                              action=f"use one of {known}")

    @property
    def spent_usd(self) -> float:
        """Estimated Venice cost of this job's request (0 when cached, failed or skipped)."""
        return (self.estimated_cost or 0.0) if self.status == "done" else 0.0

    @property
    def caption(self) -> str:
        parts = [self.image, self.mask, self.model or "default model",
                 ", ".join(f"{k}={v}" for k, v in self.variables.items()),
                 f"run {self.repeat + 1}" if self.repeat else None]
        head = " · ".join(p for p in parts if p)
        if self.result is not None:
            tail = self.result.caption()
            if self.respect is not None:
                tail += (f" · mask: {self.respect.inside:.0%} changed inside, "
                         f"{self.respect.outside:.1%} outside")
            if self.picked or self.rating or self.note:
                marks = ["★ picked" if self.picked else "", f"{self.rating}/5" if self.rating
                         else "", self.note or ""]
                tail += "\n" + " · ".join(m for m in marks if m)
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
            "template": self.template,
            "repeat": self.repeat,
            **self.variables,  # a column per prompt variable (names never clash: _plan checks)
            "changed_inside_mask": self.respect.inside if self.respect else None,
            "changed_outside_mask": self.respect.outside if self.respect else None,
            # Region edits: the share of pixels outside the mask the model changed in its raw
            # answer (the result itself keeps them).
            "spill": res.spill if res else None,
            "picked": self.picked,
            "rating": self.rating,
            "note": self.note,
        }


_DIMENSIONS = ("image", "mask", "prompt", "model", "repeat")


def _error_text(error: BaseException | None) -> str:
    return str(error) if error is not None else ""


Record = TypeVar("Record", bound="StoredRecord | ExperimentRecord")


class RecordList(list[Record], Generic[Record]):
    """A list of records (anything with ``to_dict()``) that turns into a pandas DataFrame.

    Args:
        records: The records, in order.
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        super().__init__(records)

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

    def export(self, path: str | os.PathLike[str], *, format: str | None = None,
               columns: list[str] | None = None) -> Path:
        """Write the records to JSON or CSV (``format`` or the file suffix), atomically.

        CSV columns: ``columns``, else every key the records have, in first-seen order; nested
        values (params, variables...) as JSON text.

        Args:
            path: A `.json` or `.csv` file, written atomically.
            format: `"json"` or `"csv"`; None: from the suffix.
            columns: CSV columns; None: every key the records have.
        """
        path = Path(path).expanduser()
        kind = export_format(path, format)
        rows = self.to_dicts()
        write_export(path, rows, columns or list(dict.fromkeys(k for r in rows for k in r)), kind)
        return path


class ExperimentResults(RecordList[ExperimentRecord]):
    """The records of an experiment in job order, plus its estimate and a contact sheet.

    Args:
        records: The jobs' records, in job order.
        estimate: The estimate made before the run.
        columns: Default columns of the contact sheet.
        wall_time: Seconds the run took.
        store: The store that holds the marks (None: no marks).
    """

    def __init__(self, records: Iterable[ExperimentRecord], *, estimate: CostEstimate,
                 columns: int, wall_time: float, store: ResultStore | None = None) -> None:
        super().__init__(records)
        self.estimate = estimate
        self.columns = columns
        self.wall_time = wall_time
        self.store = store

    @property
    def results(self) -> list[EditResult]:
        return [r.result for r in self if r.result is not None]

    @property
    def failed(self) -> list[ExperimentRecord]:
        return [r for r in self if r.status == "failed"]

    @property
    def counts(self) -> dict[str, int]:
        """How many jobs ended done, cached, failed and skipped."""
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for record in self:
            out[record.status] += 1
        return out

    @property
    def spent_usd(self) -> float:
        return round(sum(r.spent_usd for r in self), 6)

    @property
    def charged_usd(self) -> float:
        """What the sent requests cost here: ``spent_usd`` at Venice, nothing locally."""
        return 0.0 if self.estimate.is_local else self.spent_usd

    @property
    def cost_text(self) -> str:
        """``$0.36 at Venice · $0 here``: what the sent jobs cost at Venice and here."""
        return _money.cost(self.spent_usd, self.charged_usd)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        return f"{len(self)} jobs: {counts}; {self.cost_text}; {self.wall_time:.1f}s"

    def to_dicts(self) -> list[dict[str, Any]]:
        self.sync_marks()
        return super().to_dicts()

    def sync_marks(self) -> None:
        """Read the marks back from the store: ``store.mark(result, ...)`` on one of these
        results (or a ResultBrowser, or another notebook) shows in ``picked()``, the report
        and the sheet. The store holds marks; these records only mirror them."""
        if self.store is None or self.store.mode == "off":
            return
        keys = [(r.result.fingerprint, r.result.is_local) for r in self if r.result is not None]
        marks = self.store._marks(keys)
        for record in self:
            if record.result is not None and (
                    found := marks.get((record.result.fingerprint, record.result.is_local))):
                record.picked, record.rating, record.note = found

    # Deciding: marks are written to the store with the result, so they outlive this object.
    def mark(self, record: ExperimentRecord | int, *, picked: bool | None = None,
             rating: int | None = None, note: str | None = None) -> ExperimentRecord:
        """Pick a job's result, rate it 1-5, note why (``None``: unchanged; ``rating=0`` and
        ``note=""`` clear). ``record``: a record of these results or its position.

        Args:
            record: A record of these results, or its position.
            picked: Pick (True) or unpick (False); None leaves it.
            rating: 1-5; 0 clears it; None leaves it.
            note: Why; `""` clears it; None leaves it.
        """
        if isinstance(record, int) and not isinstance(record, bool) and -len(self) <= record < len(
                self):
            chosen = self[record]
        elif isinstance(record, ExperimentRecord):
            chosen = record
        else:
            raise ValidationError(f"record={record!r}", field="record",
                                  action=f"pass a record of these results or 0..{len(self) - 1}")
        if chosen.result is None:
            raise ValidationError(f"job {chosen.index} has no result to mark ({chosen.status})",
                                  field="record", action="mark a job that ended done or cached")
        if self.store is None or self.store.mode == "off":
            raise ValidationError(
                "marks are kept in a result store, and this experiment ran without one",
                field="store", action="run it with store=... (or a client with a store)")
        stored = self.store.mark(chosen.result, picked=picked, rating=rating, note=note)
        chosen.picked, chosen.rating, chosen.note = stored.picked, stored.rating, stored.note
        return chosen

    def picked(self) -> RecordList[ExperimentRecord]:
        """The picked jobs, in job order."""
        self.sync_marks()
        return RecordList(r for r in self if r.picked)

    def layout(self, rows: str | None = None, columns: str | None = None,
               ) -> list[list[ExperimentRecord | None]]:
        """The records as grid lines: one column per value of ``columns`` and lines grouped
        by ``rows`` (dimensions: image, mask, prompt, model, repeat or a variable's name).
        A cell no job fills is None. Used by ``contact_sheet``; a plain table in scripts.

        Args:
            rows: A dimension to group lines by (image, mask, prompt, model, repeat or a variable).
            columns: A dimension to lay out across.
        """
        row_order = _distinct(self, rows) if rows else [None]
        if columns is None:
            groups: dict[int, list[ExperimentRecord | None]] = {}
            for record in self:
                groups.setdefault(row_order.index(record.value(rows)) if rows else 0,
                                  []).append(record)
            if rows:
                return [groups[k] for k in sorted(groups)]
            flat, width = groups.get(0, []), self.columns
            return [flat[i:i + width] for i in range(0, len(flat), width)]
        col_values = _distinct(self, columns)
        lines: dict[tuple[Any, ...], list[ExperimentRecord | None]] = {}
        for record in self:
            # Other dimensions tell lines apart; a filled-in prompt varies with the variables,
            # so its template stands for it.
            rest = tuple(record.template if d == "prompt" and record.template is not None
                         else record.value(d)
                         for d in (*_DIMENSIONS, *record.variables) if d not in (rows, columns))
            key = (row_order.index(record.value(rows)) if rows else 0, *rest)
            line = lines.setdefault(key, [None] * len(col_values))
            line[col_values.index(record.value(columns))] = record
        return [lines[k] for k in sorted(lines, key=lambda k: k[0])]  # stable: job order

    def contact_sheet(self, columns: int | str | None = None, rows: str | None = None,
                      ) -> ResultGrid:
        """A captioned grid (``widgets.ResultGrid``): one card per job, failures included.

        ``columns``: a number of columns, or a dimension to lay out across (``"model"``,
        ``"color"``...); ``rows``: a dimension to group the lines by. With a result store,
        each card also takes a pick, a 1-5 rating and a note, saved in the store at once.

        Args:
            columns: A number of columns, or a dimension to lay out across.
            rows: A dimension to group the lines by.
        """
        # The widgets layer loads only when a sheet is asked for: scripts never need it.
        from ..widgets import ResultGrid
        from ..widgets._marks import MarkedSheet

        if isinstance(columns, str) or rows is not None:
            lines = self.layout(rows, columns if isinstance(columns, str) else None)
            width = max(len(line) for line in lines) if lines else 1
            cells = [cell for line in lines for cell in line]
        else:
            width, cells = columns or self.columns, list(self)
        self.sync_marks()
        items = [(_picture(r), r.caption if r is not None else "") for r in cells]
        if self.store is None or self.store.mode == "off":
            return ResultGrid(items, columns=width)
        return MarkedSheet(self, cells, items, columns=width)

    def to_html(self, path: str | os.PathLike[str], title: str = "venice_nb experiment") -> Path:
        """Write a self-contained HTML report (images embedded, costs, times, failures).

        Args:
            path: The HTML file to write.
            title: The report's heading and page title.
        """
        from ._report import write_html

        self.sync_marks()
        return write_html(self, path, title)

    def __repr__(self) -> str:
        if not hasattr(self, "wall_time"):  # half-built (e.g. a failing subclass __init__)
            return f"ExperimentResults({len(self)} records)"
        return f"ExperimentResults({self.summary()})"


def _distinct(records: Iterable[ExperimentRecord], dimension: str) -> list[Any]:
    out: list[Any] = []
    for record in records:
        value = record.value(dimension)
        if value not in out:
            out.append(value)
    return out


def _picture(record: ExperimentRecord | None) -> Any:
    return record.result if record is not None and record.result is not None else _placeholder()


def _placeholder() -> Any:
    from PIL import Image

    return Image.new("RGB", (256, 256), (225, 225, 225))


def image_size(content: bytes) -> tuple[int | None, int | None]:
    """Width and height from the image header (no pixel decode); Nones when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as img:  # reads the header only
            size: tuple[int, int] = img.size  # (Pillow's context manager is untyped)
        return size
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
    text = path.read_bytes().decode("utf-8")  # as written: a \r inside a cell stays one
    if kind == "json":
        return list(json.loads(text))
    return [{k: _csv_text(v) if isinstance(v, str) else v for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text))]


def stored_columns() -> list[str]:
    """The export columns of ``StoredRecord``: its fields plus ``created``."""
    return [*(f.name for f in fields(StoredRecord)), "created"]


def compact_json(value: Any) -> str:
    """One canonical JSON text (sorted keys, no spaces): the store's columns and CSV cells."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        value = compact_json(value)
    elif isinstance(value, float):
        return repr(value)  # shortest exact form: floats read back bit-identical
    elif value is None:
        return ""
    if isinstance(value, str) and value.startswith((*_FORMULA_STARTS, "'")):
        # A prompt or note is text, never a formula: a leading ' keeps it text in Excel,
        # LibreOffice and Sheets. read_export takes one off again, so a cell that started
        # with ' gets one too.
        return "'" + value
    return value


def _csv_text(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell
