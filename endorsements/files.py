"""Streaming readers for batch files: rows come out one at a time, never the whole file at once."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Any

from endorsements.validation import FIELDS

READ_SIZE = 64 * 1024
MAX_OBJECT_CHARS = 64 * 1024  # one endorsement object is tiny; anything bigger is garbage


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


def iter_json(binary: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON array (or JSON Lines), decoded incrementally."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    buffer = ""
    position = 0
    eof = False
    started = False
    lines_mode = False
    row_number = 0

    def refill() -> bool:
        nonlocal buffer, position, eof
        if eof:
            return False
        chunk = binary.read(READ_SIZE)
        try:
            text = utf8.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise FileFormatError("The JSON file is not UTF-8.") from None
        if not chunk:
            eof = True
        buffer = buffer[position:] + text
        position = 0
        return bool(chunk) or bool(text)

    def skip_space() -> bool:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                position += 1
            if position < len(buffer):
                return True
            if not refill():
                return False

    if not skip_space():
        raise FileFormatError("The JSON file is empty.")
    if buffer[position] == "[":
        position += 1
    elif buffer[position] == "{":
        lines_mode = True
    else:
        raise FileFormatError("The JSON file must be an array of objects or JSON Lines.")
    while True:
        if not skip_space():
            if lines_mode:
                return
            raise FileFormatError(f"The JSON array is not closed after element {row_number}.")
        char = buffer[position]
        if not lines_mode:
            if char == "]":
                position += 1
                if skip_space():
                    raise FileFormatError("Unexpected content after the JSON array.")
                return
            if started:
                if char != ",":
                    raise FileFormatError(f"Expected ',' after element {row_number}.")
                position += 1
                if not skip_space():
                    raise FileFormatError(f"The JSON array is not closed after element {row_number}.")
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if not eof and len(buffer) - position < MAX_OBJECT_CHARS:
                    refill()
                    continue
                raise FileFormatError(f"Element {row_number + 1} is not valid JSON: {exc.msg}.") from None
            # A number or literal cut at a read boundary decodes "successfully" but short.
            if end == len(buffer) and not eof:
                refill()
                continue
            break
        position = end
        started = True
        row_number += 1
        yield row_number, value


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
