"""Loading a generated archive straight into the index, without files.

For measuring queries on archives of millions of instances: the records of
:func:`~dicomqr.archive.generate.iter_instances` become index rows in large
batches (executemany, row ids assigned here), about a hundred times faster
than storing files over the network.  The instances have no files
(``path`` names none), so they can be found but not retrieved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select

from .generate import GenerateSpec, encode_record, iter_instances
from .index import Index
from .records import column_values
from .schema import instance, patient, series, study

__all__ = ["load_generated"]


def load_generated(index: Index, spec: GenerateSpec, *, batch: int = 20_000,
                   progress: Callable[[int], None] | None = None) -> int:
    """Add the instances of ``spec`` to ``index``; returns how many."""
    with index.engine.connect() as conn:
        next_id = {t.name: (conn.execute(select(func.max(t.c.id))).scalar() or 0) + 1
                   for t in (patient, study, series, instance)}
    seen: dict[str, dict[Any, int]] = {"patient": {}, "study": {}, "series": {}}
    rows: dict[str, list[dict[str, Any]]] = {"patient": [], "study": [], "series": [],
                                            "instance": []}
    count = 0

    def new_id(table: str) -> int:
        value = next_id[table]
        next_id[table] = value + 1
        return value

    def flush() -> None:
        with index.engine.begin() as conn:
            for table in (patient, study, series, instance):
                if rows[table.name]:
                    conn.execute(insert(table), rows[table.name])
                    rows[table.name] = []

    for attrs in iter_instances(spec):
        data = b"E" + encode_record(attrs)
        pat = column_values("PATIENT", attrs)
        key = (pat["patient_id"], pat["issuer"])
        pid = seen["patient"].get(key)
        if pid is None:
            pid = seen["patient"][key] = new_id("patient")
            rows["patient"].append({**pat, "id": pid, "attrs": data})
        sid = seen["study"].get(attrs["StudyInstanceUID"])
        if sid is None:
            sid = seen["study"][attrs["StudyInstanceUID"]] = new_id("study")
            rows["study"].append({**column_values("STUDY", attrs),
                                  "id": sid, "patient_fk": pid, "attrs": data})
        eid = seen["series"].get(attrs["SeriesInstanceUID"])
        if eid is None:
            eid = seen["series"][attrs["SeriesInstanceUID"]] = new_id("series")
            rows["series"].append({**column_values("SERIES", attrs),
                                   "id": eid, "study_fk": sid, "attrs": data})
        image = column_values("IMAGE", attrs)
        rows["instance"].append({
            **image, "id": new_id("instance"), "series_fk": eid,
            "sop_uid": attrs["SOPInstanceUID"], "sop_class": attrs["SOPClassUID"],
            "transfer_syntax": attrs["TransferSyntaxUID"],
            "path": "", "size": 0, "attrs": data})
        count += 1
        if len(rows["instance"]) >= batch:
            flush()
            if progress is not None:
                progress(count)
    flush()
    if progress is not None:
        progress(count)
    return count
