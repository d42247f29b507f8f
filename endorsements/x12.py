"""ANSI X12 834 (005010X220A1) benefit enrollment files: writing ours, reading 999s and HR's 834s.

Only the segments this platform needs. Separators: `*` between elements, `~` after each segment,
`>` between components (not `:`: our references, such as the BGN02 idempotency key, contain colons),
`^` for repetitions (ISA11).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ELEMENT = "*"
SEGMENT = "~"
COMPONENT = ">"
REPETITION = "^"
VERSION = "005010X220A1"

# Our endorsement kinds -> INS03/HD01 maintenance type codes.
MAINTENANCE = {"addition": "021", "modification": "001", "deletion": "024", "reinstatement": "025", "audit": "030"}
KIND_OF_MAINTENANCE = {"021": "addition", "001": "modification", "024": "deletion"}
# INS04 maintenance reason: 28 initial enrollment, 41 re-enrollment, XN notification only, AI none given.
REASON = {"021": "28", "001": "AI", "024": "AI", "025": "41", "030": "XN"}
# INS02 individual relationship codes.
RELATIONSHIP = {"employee": "18", "spouse": "01", "child": "19", "parent": "03"}
RELATIONSHIP_OF_CODE = {v: k for k, v in RELATIONSHIP.items()}


def in_progress(name: str) -> bool:
    """The drop-box convention both sides keep: a dot or `.part` name is an upload under way,
    never to be read (files are written under such a name, then renamed into place)."""
    return name.startswith(".") or name.endswith(".part")


class X12Error(ValueError):
    """The text is not a readable X12 interchange (or not the one expected)."""


@dataclass(frozen=True)
class Envelope:
    sender_id: str
    receiver_id: str
    control_number: int
    created_at: datetime.datetime
    usage: str = "P"  # ISA15: P production, T test


@dataclass(frozen=True)
class Enrollment:
    """One member line (loop 2000 with its 2100A and 2300) of an 834."""

    maintenance: str
    member_id: str
    subscriber_id: str
    relationship: str
    person_name: str
    date_of_birth: datetime.date
    plan: str
    effective_date: datetime.date
    tracking_id: str = ""


def _clean(value: object) -> str:
    text = str(value)
    for sep in (ELEMENT, SEGMENT, COMPONENT, REPETITION):
        text = text.replace(sep, " ")
    return text.strip()


def _segment(*elements: object) -> str:
    parts = [_clean(e) for e in elements]
    while parts and parts[-1] == "":
        parts.pop()  # trailing empty elements are not sent
    return ELEMENT.join(parts) + SEGMENT


def _names(person_name: str) -> tuple[str, str]:
    parts = person_name.split()
    if len(parts) < 2:
        return (parts[0] if parts else "UNKNOWN"), ""
    return parts[-1], " ".join(parts[:-1])


@dataclass(frozen=True)
class Transaction834:
    """One 834 transaction set: one policy of one sponsor (employer)."""

    policy_number: str
    sponsor_name: str
    sponsor_id: str
    insurer_name: str
    insurer_id: str
    enrollments: list[Enrollment]


def _transaction(number: int, reference: str, when: datetime.datetime, t: Transaction834, audit: bool) -> list[str]:
    control = f"{number:04d}"
    body: list[str] = [
        _segment("ST", "834", control, VERSION),
        _segment(
            "BGN", "00", reference, when.strftime("%Y%m%d"), when.strftime("%H%M"), "", "", "", "4" if audit else "2"
        ),
        _segment("REF", "38", t.policy_number),
        _segment("N1", "P5", t.sponsor_name, "94", t.sponsor_id),
        _segment("N1", "IN", t.insurer_name, "94", t.insurer_id),
    ]
    for e in t.enrollments:
        subscriber = e.relationship == "employee"
        code = e.maintenance
        last, first = _names(e.person_name)
        ended = code == "024"
        body += [
            _segment(
                "INS",
                "Y" if subscriber else "N",
                RELATIONSHIP[e.relationship],
                code,
                REASON[code],
                "A",
                "",
                "",
                "FT" if subscriber else "",
            ),
            _segment("REF", "0F", e.subscriber_id),
            _segment("REF", "1L", t.policy_number),
        ]
        if e.tracking_id:
            # Our tracking id travels with the member: the insurer's result file names it back.
            body.append(_segment("REF", "ZZ", e.tracking_id))
        if not subscriber:
            body.append(_segment("REF", "17", e.member_id))
        day = e.effective_date.strftime("%Y%m%d")
        body += [
            _segment("DTP", "357" if ended else "356", "D8", day),
            _segment("NM1", "IL", "1", last, first),
            _segment("DMG", "D8", e.date_of_birth.strftime("%Y%m%d"), "U"),
            _segment("HD", code, "", "HLT", e.plan),
            _segment("DTP", "349" if ended else "348", "D8", day),
        ]
    body.append(_segment("SE", len(body) + 1, control))
    return body


def write_834(*, envelope: Envelope, reference: str, transactions: list[Transaction834], audit: bool = False) -> str:
    """One interchange, one functional group, one 834 per policy; BGN02 is `reference` (our
    idempotency key, at most 50 characters) in each.

    A full-file audit (`audit=True`, every line 030) is sent with BGN08 "4" (verify); updates with "2".
    """
    if not 1 <= len(reference) <= 50:
        raise X12Error("The BGN02 reference must be 1-50 characters.")
    when = envelope.created_at
    ctl = envelope.control_number
    if not 1 <= ctl <= 999_999_999:
        raise X12Error("An interchange control number is 1-999999999.")
    if not transactions:
        raise X12Error("An 834 file needs at least one transaction set.")
    isa = ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            envelope.sender_id.ljust(15),
            "ZZ",
            envelope.receiver_id.ljust(15),
            when.strftime("%y%m%d"),
            when.strftime("%H%M"),
            REPETITION,
            "00501",
            f"{ctl:09d}",
            "1",  # ask for an acknowledgement
            envelope.usage,
            COMPONENT,
        ]
    )
    gs = _segment(
        "GS",
        "BE",
        envelope.sender_id,
        envelope.receiver_id,
        when.strftime("%Y%m%d"),
        when.strftime("%H%M"),
        ctl,
        "X",
        VERSION,
    )
    body = [seg for n, t in enumerate(transactions, 1) for seg in _transaction(n, reference, when, t, audit)]
    tail = [_segment("GE", len(transactions), ctl), _segment("IEA", "1", f"{ctl:09d}")]
    return "\n".join([isa + SEGMENT, gs, *body, *tail]) + "\n"


def segments(text: str) -> Iterator[list[str]]:
    """The segments of an interchange as element lists; separators are read from its ISA."""
    return segments_stream([text])


def segments_stream(chunks: Iterable[str]) -> Iterator[list[str]]:
    """Segments from text arriving in pieces (a file read chunk by chunk): memory stays bounded."""
    buffer = ""
    element = terminator = ""
    for chunk in chunks:
        buffer += chunk
        if not terminator:
            start = buffer.lstrip()
            if len(start) < 106:
                continue
            if not start.startswith("ISA"):
                raise X12Error("Not an X12 interchange: it does not start with an ISA segment.")
            element, terminator, buffer = start[3], start[105], start
        *complete, buffer = buffer.split(terminator)
        for raw in complete:
            raw = raw.strip()
            if raw:
                yield raw.split(element)
    if not terminator:
        raise X12Error("Not an X12 interchange: it does not start with a complete ISA segment.")
    if buffer.strip():
        yield buffer.strip().split(element)


@dataclass
class Ack999:
    """What a 999 says about one of our functional groups."""

    group_control_number: int
    status: str  # AK9-01: A, E, P or R
    errors: list[str] = field(default_factory=list)
    # Per transaction set (ST02 -> IK5-01: A, E, R...): which sets a partial acceptance refused.
    sets: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E", "P")


def parse_999(text: str) -> Ack999:
    """Read a 999; anything that is not one (or lacks AK1/AK9) raises X12Error."""
    group: int | None = None
    status = ""
    errors: list[str] = []
    sets: dict[str, str] = {}
    current_set = ""
    kinds: set[str] = set()
    for seg in segments(text):
        tag = seg[0]
        kinds.add(tag)
        if tag == "ST" and (len(seg) < 2 or seg[1] != "999"):
            raise X12Error(f"Expected a 999 transaction set, found {seg[1] if len(seg) > 1 else 'none'}.")
        elif tag == "AK1":
            if len(seg) < 3 or not seg[2].isdigit():
                raise X12Error("AK1 carries no group control number.")
            group = int(seg[2])
        elif tag == "AK2":
            current_set = seg[2] if len(seg) > 2 else ""
        elif tag == "IK5" and current_set:
            sets[current_set] = seg[1] if len(seg) > 1 else ""
        elif tag in ("IK3", "IK4"):
            errors.append(ELEMENT.join(seg))
        elif tag == "AK9":
            status = seg[1] if len(seg) > 1 else ""
    if "ST" not in kinds or group is None or status not in ("A", "E", "P", "R"):
        raise X12Error("The 999 has no ST/AK1/AK9 with a valid acknowledgement code.")
    return Ack999(group_control_number=group, status=status, errors=errors, sets=sets)


def _member_lines(segs: Iterable[list[str]]) -> Iterator[tuple[int, dict[str, str]]]:
    """(member line number, what the line says) for each INS loop of an 834."""
    policy_number = ""
    line: dict[str, str] | None = None
    number = 0
    seen_st = False
    for seg in segs:
        tag = seg[0]
        el = seg + [""] * 10
        if tag == "ST":
            if el[1] != "834":
                raise X12Error(f"Expected an 834 transaction set, found {el[1] or 'none'}.")
            seen_st = True
        elif tag == "REF" and el[1] == "38" and line is None:
            policy_number = el[2]
        elif tag == "INS":
            if line is not None:
                yield number, line
            number += 1
            line = {"maintenance": el[3], "relationship_code": el[2], "policy_number": policy_number}
        elif line is None:
            continue
        elif tag == "REF" and el[1] == "0F":
            line["subscriber_id"] = el[2]
        elif tag == "REF" and el[1] == "17":
            line["own_id"] = el[2]
        elif tag == "REF" and el[1] == "1L":
            line["policy_number"] = el[2]
        elif tag == "NM1" and el[1] == "IL":
            line["name"] = " ".join(p for p in (el[4], el[3]) if p)
        elif tag == "DMG" and el[1] == "D8":
            line["date_of_birth"] = _iso(el[2])
        elif tag == "HD":
            line["plan"] = el[4]
        elif tag == "DTP" and el[1] in ("348", "349", "356", "357"):
            line.setdefault("date", _iso(el[3]))
        elif tag in ("SE", "GE", "IEA"):
            yield number, line
            line = None
    if not seen_st:
        raise X12Error("The interchange holds no 834 transaction set.")
    if line is not None:
        yield number, line


def _relationship(line: dict[str, str]) -> str:
    code = line.get("relationship_code", "")
    return RELATIONSHIP_OF_CODE.get(code, f"x12 relationship {code}")


def parse_834(segs: Iterable[list[str]]) -> Iterator[tuple[int, dict[str, str]]]:
    """An HR-supplied 834 as intake rows: (member line number, the fields a CSV row would have).

    Codes we do not take (an audit line 030, an unknown relationship) are passed on as they are,
    so intake refuses that one row with its usual per-row error instead of refusing the file.
    """
    for number, line in _member_lines(segs):
        code = line.get("maintenance", "")
        kind = KIND_OF_MAINTENANCE.get(code, f"x12 maintenance type {code}")
        relationship = _relationship(line)
        out = {"policy_number": line.get("policy_number", ""), "kind": kind}
        out["member_id"] = line.get("own_id") or line.get("subscriber_id", "")
        out["effective_date"] = line.get("date", "")
        if kind == "addition":
            out |= {"relationship": relationship, "name": line.get("name", "")}
            out |= {"date_of_birth": line.get("date_of_birth", ""), "plan": line.get("plan", "")}
            if relationship != "employee":
                out["employee_member_id"] = line.get("subscriber_id", "")
        elif kind == "modification":
            out["new_plan"] = line.get("plan", "")
        elif kind != "deletion":
            out["relationship"] = relationship
        yield number, {k: v for k, v in out.items() if v}


def census_rows(segs: Iterable[list[str]]) -> Iterator[tuple[int, dict[str, str]]]:
    """A full-file 834 (030 lines, or 021 additions) as census rows: who is covered since when."""
    for number, line in _member_lines(segs):
        relationship = _relationship(line)
        out = {
            "member_id": line.get("own_id") or line.get("subscriber_id", ""),
            "name": line.get("name", ""),
            "date_of_birth": line.get("date_of_birth", ""),
            "relationship": relationship,
            "plan": line.get("plan", ""),
            "start_date": line.get("date", ""),
        }
        if relationship != "employee":
            out["employee_member_id"] = line.get("subscriber_id", "")
        if line.get("maintenance") not in ("030", "021"):
            out["maintenance"] = line.get("maintenance", "")  # refused as an unknown census column
        yield number, {k: v for k, v in out.items() if v}


def _iso(value: str) -> str:
    """CCYYMMDD as ISO; anything else is passed on for intake to refuse as an invalid date."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value
