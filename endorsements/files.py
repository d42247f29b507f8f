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
    binary: IO[bytes],
    *,
    required: tuple[str, ...] = ("kind", "member_id"),
    known: tuple[str, ...] = FIELDS,
    header_row: int = 1,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) pairs numbered as a spreadsheet shows them: the header is row 1, so the
    first data row is row 2 and a blank line still takes its number. (The census keeps counting
    data rows from 1, `header_row=0`: its results are an operator's, and its API says so.)"""
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
    row_number = header_row
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise FileFormatError(f"The file is not UTF-8 text after row {row_number}.") from None
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


def _encoding_problem(binary: IO[bytes]) -> str | None:
    """The first line that is not UTF-8, named as the spreadsheet numbers it (line 1 is the header).

    Line by line, not in the reader's 8 KiB blocks: a block-wise decoder blames whichever row the
    block happened to end in.
    """
    for line_number, line in enumerate(binary, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            try:
                line.decode("cp1252")
                hint = " It looks like Latin-1 or Windows-1252 (what Excel saves as plain CSV)."
            except UnicodeDecodeError:
                hint = ""
            return (
                f"The file is not UTF-8 text: line {line_number} has a character that cannot be read "
                f"(position {exc.start + 1}).{hint} Save it as “CSV UTF-8” and upload it again."
            )
    return None


def _csv_header_problem(binary: IO[bytes], known: tuple[str, ...]) -> str | None:
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        header = next(csv.reader(text), [])
    finally:
        text.detach()
    names = [h.strip().lower() for h in header]
    if len(names) == 1 and ";" in names[0]:
        return "The columns in line 1 are separated by semicolons; separate them with commas."
    missing = [name for name in ("kind", "member_id") if name not in names]
    unknown = [h.strip() for h, name in zip(header, names, strict=True) if name and name not in known]
    if not missing and not unknown:
        return None
    parts = ["Line 1 must name the columns."]
    if missing:
        parts.append(f"Missing: {', '.join(missing)}.")
    if unknown:
        parts.append(f"Not recognised: {', '.join(unknown)}.")
    parts.append(f"The columns are: {', '.join(known)}.")
    return " ".join(parts)


def _csv_data_rows(binary: IO[bytes]) -> int:
    """Rows after the header that are not blank, without building them (a 100,000-row file is
    counted at upload, while the uploader waits)."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        next(reader, None)
        return sum(1 for values in reader if any(v.strip() for v in values))
    except csv.Error as exc:
        raise FileFormatError(f"The CSV cannot be read at line {reader.line_num}: {exc}.") from None


def file_survey(path: str, file_format: str) -> int:
    """Read a stored upload once, before it is accepted: the number of rows it holds.

    Raises FileFormatError naming what is wrong with the file as a whole (encoding, header,
    structure), so the uploader hears it at once instead of from a failed batch later.
    """
    with open(path, "rb") as handle:
        if file_format == "csv":
            problem = _encoding_problem(handle)
            if problem is None:
                handle.seek(0)
                problem = _csv_header_problem(handle, FIELDS)
            if problem is not None:
                raise FileFormatError(problem)
            handle.seek(0)
            return _csv_data_rows(handle)
        if file_format == "x12":
            return sum(1 for _ in iter_x12(handle))
        return sum(1 for _ in iter_json(handle))
