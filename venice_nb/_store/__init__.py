"""Results on disk: the SQLite-indexed store, its records and exports, durable file writes,
HTML reports and git-friendly recordings that replay at no cost."""

from ._recording import open_recording, save_recording
from ._records import ExperimentRecord, ExperimentResults, RecordList, StoredRecord
from ._store import ResultStore, StoreMode, StoreWarning

__all__ = [
    "ExperimentRecord",
    "ExperimentResults",
    "RecordList",
    "ResultStore",
    "StoreMode",
    "StoreWarning",
    "StoredRecord",
    "open_recording",
    "save_recording",
]
