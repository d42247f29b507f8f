"""Streaming readers for batch files: rows come out one at a time, never the whole file at once."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import IO, Any

import ijson

from endorsements.validation import FIELDS
from escrow_project.common.input_guard import max_json_depth

READ_SIZE = 64 * 1024


class FileFormatError(ValueError):
    """The file as a whole cannot be read (not one bad row: those become row results)."""


def iter_csv(
    binary: IO[bytes], *, required: tuple[str, ...] = ("kind", "member_id"), known: tuple[str, ...] = FIELDS
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) pairs; row 1 is the first data row after the header."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise FileFormatError("The CSV file is empty.") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FileFormatError(f"The CSV header cannot be read: {exc}.") from None
    names = [h.strip().lower() for h in header]
    if any(name not in names for name in required):
        raise FileFormatError(f"The CSV header must name the columns; known columns: {', '.join(known)}.")
    row_number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise FileFormatError(f"The file is not UTF-8 after row {row_number}.") from None
        except csv.Error as exc:
            raise FileFormatError(f"The CSV is malformed after row {row_number}: {exc}.") from None
        row_number += 1
        if not any(v.strip() for v in values):
            continue  # blank lines are not rows
        row: dict[str, Any] = {}
        for name, value in zip(names, values, strict=False):
            if name and value.strip() != "":
                row[name] = value
        if len(values) > len(names):
            row["__extra_columns__"] = "present"
        yield row_number, row


class _Utf8Checked:
    """Hands the file to the tokenizer unchanged, minus a BOM, refusing bytes that are not UTF-8."""

    def __init__(self, binary: IO[bytes]) -> None:
        self.binary = binary
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.started = False

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) whether the file gives bytes or text
            return b""
        chunk = self.binary.read(READ_SIZE)
        if not self.started:
            while len(chunk) < 3 and (more := self.binary.read(READ_SIZE)):
                chunk += more
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
            self.started = True
        try:
            self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise FileFormatError("The JSON file is not UTF-8.") from None
        return chunk


def iter_json(binary: IO[bytes], *, max_depth: int | None = None) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON array (or JSON Lines), streamed by a non-recursive tokenizer.

    No element is built deeper than `max_depth` (API_MAX_JSON_DEPTH): a file of 200,000 nested
    brackets is refused as it is read instead of exhausting the parser's C stack.
    """
    limit = max_depth if max_depth is not None else max_json_depth()
    events = ijson.basic_parse(_Utf8Checked(binary), multiple_values=True, use_float=True)
    lines_mode: bool | None = None
    closed = False
    row_number = 0
    depth = 0  # of the element being built (the top-level array itself not counted)
    builder: ijson.ObjectBuilder | None = None
    try:
        for kind, value in events:
            if lines_mode is None:
                if kind == "start_array":
                    lines_mode = False
                    continue
                if kind != "start_map":
                    raise FileFormatError("The JSON file must be an array of objects or JSON Lines.")
                lines_mode = True
            if closed:
                raise FileFormatError("Unexpected content after the JSON array.")
            if not lines_mode and depth == 0 and kind == "end_array":
                closed = True
                continue
            if builder is None:
                builder = ijson.ObjectBuilder()
            if kind in ("start_map", "start_array"):
                depth += 1
                if depth > limit:
                    raise FileFormatError(f"Element {row_number + 1} is nested deeper than {limit} levels.")
            elif kind in ("end_map", "end_array"):
                depth -= 1
            builder.event(kind, value)
            if depth == 0:
                row_number += 1
                yield row_number, builder.value
                builder = None
    except ijson.JSONError as exc:
        if lines_mode is None and "premature EOF" in str(exc):
            raise FileFormatError("The JSON file is empty.") from None
        raise FileFormatError(_json_error(str(exc), row_number=row_number, closed=closed)) from None
    if lines_mode is None:
        raise FileFormatError("The JSON file is empty.")
    if not lines_mode and not closed:
        raise FileFormatError(f"The JSON array is not closed after element {row_number}.")


def _json_error(message: str, *, row_number: int, closed: bool) -> str:
    if closed or "trailing" in message:
        return "Unexpected content after the JSON array."
    if "premature EOF" in message:
        return f"The JSON array is not closed after element {row_number}."
    if "expect ','" in message:
        return f"Expected ',' after element {row_number}."
    if "UTF8" in message:
        return "The JSON file is not UTF-8."
    return f"Element {row_number + 1} is not valid JSON."


def iter_x12(
    binary: IO[bytes], chunk_size: int = 64 * 1024, *, census: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Member lines of an X12 834 as intake rows (or census rows), read chunk by chunk."""
    from endorsements import x12

    decoder = codecs.getincrementaldecoder("utf-8-sig")()

    def chunks() -> Iterator[str]:
        while True:
            data = binary.read(chunk_size)
            try:
                yield decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                raise FileFormatError("The 834 file is not UTF-8 (or ASCII) text.") from None
            if not data:
                return

    try:
        rows = x12.census_rows if census else x12.parse_834
        yield from rows(x12.segments_stream(chunks()))
    except x12.X12Error as exc:
        raise FileFormatError(f"The 834 file cannot be read: {exc}") from None
