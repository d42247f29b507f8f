"""Streaming readers and resumable batch processing."""

from __future__ import annotations

import io
import json

import pytest

from endorsements import files
from endorsements.files import FileFormatError, iter_csv, iter_json
from endorsements.models import Batch, BatchRow, EndorsementRequest
from endorsements.services import batches
from tests.endorsements.conftest import addition


@pytest.fixture
def tiny_reads(monkeypatch):
    # Reads of 7 bytes put every object, string and number across read boundaries.
    monkeypatch.setattr(files, "READ_SIZE", 7)


def test_json_array_is_decoded_across_read_boundaries(tiny_reads):
    rows = [{"a": 1, "b": "x" * 20}, {"n": 12345678}, {"nested": [1, {"k": "v"}]}]
    data = json.dumps(rows, indent=2).encode()
    assert list(iter_json(io.BytesIO(data))) == list(enumerate(rows, start=1))


def test_json_lines_are_accepted(tiny_reads):
    data = b'{"a": 1}\n{"a": 2}\n'
    assert [r for _, r in iter_json(io.BytesIO(data))] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b'"just a string"', "array of objects"),
        (b'[{"a": 1} {"b": 2}]', "Expected ','"),
        (b'[{"a": 1},', "not closed"),
        (b'[{"a": 1}] trailing', "after the JSON array"),
        (b"\xff\xfe[", "UTF-8"),
    ],
)
def test_broken_json_files_say_why(data, message):
    with pytest.raises(FileFormatError, match=message):
        list(iter_json(io.BytesIO(data)))


def test_csv_rows_are_numbered_and_blank_lines_skipped():
    data = b'\xef\xbb\xbfkind,member_id\naddition,E1\n\n"deletion","E,2"\n'
    # Numbered as a spreadsheet shows the file: the header is row 1, the blank line is row 3.
    assert list(iter_csv(io.BytesIO(data))) == [
        (2, {"kind": "addition", "member_id": "E1"}),
        (4, {"kind": "deletion", "member_id": "E,2"}),
    ]


def test_a_csv_without_a_usable_header_is_refused():
    with pytest.raises(FileFormatError, match="header"):
        list(iter_csv(io.BytesIO(b"foo,bar\n1,2\n")))


def _batch(world, tmp_path, rows: list[dict[str, str]]) -> Batch:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rows))
    return Batch.objects.create(
        employer=world.employer, file_format=Batch.Format.JSON, file_path=str(path), file_sha256="x" * 64
    )


def test_a_batch_resumes_after_the_last_committed_chunk_and_loses_nothing(world, tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_ROWS", 2)
    batch = _batch(world, tmp_path, [addition(f"E-{i}", effective="2026-11-20") for i in range(5)])
    # A first run that stops after one chunk (as a worker killed mid-file would).
    assert batches.batch_process(batch_id=batch.pk, max_rows=2) is False
    batch.refresh_from_db()
    assert (batch.rows_done, batch.status) == (2, Batch.Status.PROCESSING)
    # The rerun continues after row 2: every row exactly once.
    assert batches.batch_process(batch_id=batch.pk) is True
    batch.refresh_from_db()
    assert batch.status == Batch.Status.COMPLETED
    assert list(BatchRow.objects.filter(batch=batch).values_list("row_number", flat=True)) == [1, 2, 3, 4, 5]
    assert EndorsementRequest.objects.filter(batch=batch).count() == batch.rows_accepted


def test_a_file_broken_half_way_keeps_the_rows_before_the_break(world, tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_ROWS", 2)
    path = tmp_path / "b.json"
    good = json.dumps([addition("E-1", effective="2026-11-20"), addition("E-2", effective="2026-11-20")])
    path.write_text(good[:-1] + ', {"kind": "addition", BROKEN')
    batch = Batch.objects.create(
        employer=world.employer, file_format=Batch.Format.JSON, file_path=str(path), file_sha256="x" * 64
    )
    assert batches.batch_process(batch_id=batch.pk) is True
    batch.refresh_from_db()
    assert batch.status == Batch.Status.FAILED
    assert "Element 3" in batch.error
    assert batch.rows_done == 2
    assert BatchRow.objects.filter(batch=batch).count() == 2
