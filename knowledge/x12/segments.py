"""A streaming X12 tokenizer: delimiters from each ISA, one segment at a time, constant memory.

Why our own tokenizer rather than a library: pyx12 (the well-kept Python X12 library, installed here)
reads these files correctly, but its `X12Reader` is built for validation against its XML maps: it builds
a `Segment` object per segment with composite objects inside, and its validating layer holds loop state
for the whole interchange. Tokenizing X12 is small and exact (fixed-width ISA, then split on three
delimiters), and we need things pyx12 does not give directly: byte offsets to re-read one ST..SE for its
own database transaction, the segment number within the file for error messages, and several
interchanges with different delimiters in one file. pyx12 stays the baseline the benchmark compares
against (`evals/x12_eval.py`), and the tests check both read the same segments.

Files are decoded as Latin-1 so a character is a byte: offsets are byte offsets, and no input can
fail to decode (X12's extended character set is a subset).

Liberal in what it reads, as real files need: a UTF-8 byte-order mark before the ISA (files saved on
Windows), any delimiters the ISA declares (`^` or a control character as the segment terminator, `|`
as the component separator, CR, LF or CRLF after or as terminators, indented lines), a new ISA before
the previous IEA, and a file that starts at GS or at ST with no envelope at all (what many payer
portals let you download): the delimiters are then read from the GS or ST itself and the component
separator from the first composite element (`envelope.scan` says the envelope was synthesised).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from knowledge.errors import FileFormatError

ISA_LENGTH = 106
_CHUNK = 1 << 16
_WHITESPACE = " \t\r\n\x00\x1a"
_UTF8_BOM = "\xef\xbb\xbf"  # the UTF-8 byte-order mark, read as Latin-1
_UTF16_BOMS = ("\xff\xfe", "\xfe\xff")
#: Qualifiers of composite elements (SVC01, SV101, SV202, CLM05, STC01...) that show a bare transaction's
#: component separator: the character right after one of them.
_COMPOSITE = re.compile(r"(?:^|[^A-Za-z0-9])(?:HC|AD|ER|IV|N4|NU|WK|ZZ|HP|A\d|F\d|P\d)([^A-Za-z0-9 ])[A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


class Segment:
    """One segment: `seg[0]` is the tag, `seg[1]` the first element; a missing element reads as ''."""

    __slots__ = ("delimiters", "elements", "number", "offset")

    def __init__(self, elements: list[str], number: int, offset: int, delimiters: Delimiters) -> None:
        self.elements = elements
        self.number = number
        self.offset = offset
        self.delimiters = delimiters

    @property
    def tag(self) -> str:
        return self.elements[0]

    def __getitem__(self, index: int) -> str:
        return self.elements[index] if index < len(self.elements) else ""

    def __len__(self) -> int:
        return len(self.elements)

    def components(self, index: int) -> list[str]:
        """The parts of a composite element (a plain element gives a one-item list)."""
        return self[index].split(self.delimiters.component)

    def component(self, index: int, part: int) -> str:
        parts = self.components(index)
        return parts[part] if part < len(parts) else ""

    @property
    def text(self) -> str:
        return self.delimiters.element.join(self.elements) + self.delimiters.segment

    @property
    def position(self) -> str:
        """Where the segment is, for error messages: its number in the file and its text."""
        text = self.text
        if len(text) > 70:
            text = text[:67] + "..."
        return f"segment {self.number}: {text}"

    def __repr__(self) -> str:
        return f"Segment({self.position!r})"


def parse_isa(text: str, *, path: str | None, offset: int) -> tuple[Delimiters, int]:
    """Read the delimiters an ISA declares, and the ISA's length with its terminator.

    An ISA is fixed width (106 characters); some senders do not pad its fields, so when the fixed-width
    reading does not give 16 elements, the delimiters are read after the 16th element separator.
    """
    if not text.startswith("ISA"):
        found = text[:20].replace("\n", "\\n")
        raise FileFormatError(
            f"not an X12 interchange: expected 'ISA' but found {found!r}", path=path, position=f"byte {offset}"
        )
    element = text[3] if len(text) > 3 else ""
    fields = text[:ISA_LENGTH].split(element) if element else []
    if len(fields) == 17 and len(text) >= ISA_LENGTH and not element.isalnum():
        length = ISA_LENGTH
    else:
        pieces = text[: ISA_LENGTH * 2].split(element, 16) if element and not element.isalnum() else []
        if len(pieces) != 17 or len(pieces[16]) < 2:
            raise FileFormatError(
                "the ISA segment is truncated or malformed: expected 16 elements, then the component "
                "separator and the segment terminator",
                path=path,
                position=f"segment 1: {text[:ISA_LENGTH]}",
            )
        fields = [*pieces[:16], pieces[16][0]]
        length = len(element.join(pieces[:16])) + 3
    component = text[length - 2]
    segment = text[length - 1]
    repetition = fields[11] if fields[12] >= "00402" and len(fields[11]) == 1 and not fields[11].isalnum() else ""
    delimiters = Delimiters(element=element, component=component, repetition=repetition or "^", segment=segment)
    return delimiters, length


def parse_bare_start(text: str, *, path: str | None, offset: int) -> Delimiters | None:
    """The delimiters of a file that starts at GS or ST with no ISA, or None if it does not.

    The element separator follows the tag; the segment terminator is the first character after the
    segment's alphanumeric identifiers (GS08, or ST02/ST03); the component separator is the character
    after the first composite qualifier in the text, ':' when there is none.
    """
    tag = text[:2]
    if tag not in ("GS", "ST") or len(text) < 4 or text[2].isalnum() or text[2] in _WHITESPACE:
        return None
    element = text[2]
    if tag == "GS":
        pieces = text.split(element, 8)
        if len(pieces) < 9:
            return None
        rest = pieces[8]
    else:
        rest = text[3:]
    terminator = ""
    for char in rest:
        if not char.isalnum() and char != element:
            terminator = char
            break
    if not terminator or terminator == " ":
        raise FileFormatError(
            f"the file starts with {tag} but no segment terminator follows it", path=path, position=f"byte {offset}"
        )
    component = ":"
    for match in _COMPOSITE.finditer(text):
        found = match.group(1)
        if found not in (element, terminator) and found not in _WHITESPACE:
            component = found
            break
    repetition = "^" if "^" not in (element, component, terminator) else ""
    return Delimiters(element=element, component=component, repetition=repetition, segment=terminator)


def iter_segments(
    path: Path,
    *,
    start: int = 0,
    end: int | None = None,
    first_number: int = 1,
    delimiters: Delimiters | None = None,
) -> Iterator[Segment]:
    """Stream the segments of a file (or of the byte range `start`..`end`, which must begin at an ISA or
    at a segment boundary inside an interchange whose delimiters are re-read from the file's ISA).

    Raises FileFormatError for a file that is not X12 or that ends in the middle of a segment.
    """
    with path.open("r", encoding="latin-1", newline="") as handle:
        if start:
            if delimiters is None:
                delimiters = _delimiters_before(handle, start, path=str(path))
            handle.seek(start)
        else:
            delimiters = None
        yield from _tokenize(handle, path=str(path), offset=start, end=end, number=first_number, delimiters=delimiters)


def _delimiters_before(handle: IO[str], start: int, *, path: str) -> Delimiters:
    # The interchange that holds `start` declared its delimiters in the last ISA before it.
    handle.seek(0)
    head = handle.read(start)
    position = head.rfind("ISA")
    while position >= 0:
        candidate = head[position:] + handle.read(ISA_LENGTH)
        try:
            return parse_isa(candidate, path=path, offset=position)[0]
        except FileFormatError:
            position = head.rfind("ISA", 0, position)
    raise FileFormatError("no ISA segment before this transaction", path=path, position=f"byte {start}")


def _tokenize(
    handle: IO[str], *, path: str, offset: int, end: int | None, number: int, delimiters: Delimiters | None
) -> Iterator[Segment]:
    buffer = ""
    base = offset  # file offset of buffer[0]
    eof = False
    expect_isa = delimiters is None

    def fill() -> bool:
        nonlocal buffer, eof
        if eof:
            return False
        want = _CHUNK if end is None else min(_CHUNK, end - (base + len(buffer)))
        chunk = handle.read(want) if want > 0 else ""
        if not chunk:
            eof = True
            return False
        buffer += chunk
        return True

    position = 0
    while True:
        # skip the line breaks and padding that many senders put between segments
        while True:
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if position < len(buffer) or not fill():
                break
        if position >= len(buffer):
            return
        if position > _CHUNK:
            base += position
            buffer = buffer[position:]
            position = 0
        if expect_isa:
            while len(buffer) - position < ISA_LENGTH * 2 and fill():
                pass
            if buffer.startswith(_UTF8_BOM, position):
                position += len(_UTF8_BOM)
                continue
            if buffer.startswith(_UTF16_BOMS, position):
                raise FileFormatError(
                    "the file is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as ASCII or UTF-8",
                    path=path,
                    position=f"byte {base + position}",
                )
            if not buffer.startswith("ISA", position):
                while len(buffer) - position < _CHUNK and fill():
                    pass
                bare = parse_bare_start(buffer[position : position + _CHUNK], path=path, offset=base + position)
                if bare is not None:
                    delimiters = bare
                    expect_isa = False
                    continue
            delimiters, isa_length = parse_isa(buffer[position:], path=path, offset=base + position)
            text = buffer[position : position + isa_length - 1]
            yield Segment(text.split(delimiters.element), number, base + position, delimiters)
            number += 1
            position += isa_length
            expect_isa = False
            continue
        assert delimiters is not None
        if buffer.startswith("ISA", position) and len(buffer) > position + 3 and not buffer[position + 3].isalnum():
            # a new interchange before the previous one's IEA: it declares its own delimiters
            expect_isa = True
            continue
        last = buffer.rfind(delimiters.segment, position)
        if last >= position:
            # Every complete segment in the buffer at once (one split instead of a find per segment), read
            # by the same rules as one at a time below; it stops where a new interchange begins.
            term, element = delimiters.segment, delimiters.element
            start = position  # where the current piece begins in the buffer
            for piece in buffer[position:last].split(term):
                at = start  # the segment's own start, after the whitespace that precedes it
                text = piece
                if text and text[0] in _WHITESPACE:
                    text = text.lstrip(_WHITESPACE)
                    at += len(piece) - len(text)
                start += len(piece) + 1
                if not text and term in _WHITESPACE:
                    position = start  # blank lines when the terminator is itself a line break
                    continue
                if text.startswith("ISA") and not buffer[at + 3].isalnum():
                    position = at  # a new interchange before the previous one's IEA (read above)
                    expect_isa = True
                    break
                if term == "\n" and text.endswith("\r"):
                    text = text[:-1]
                elements = text.split(element)
                tag = elements[0]
                if not tag or len(tag) > 3 or not tag.isalnum():
                    raise _not_a_segment(tag, text, path, number)
                yield Segment(elements, number, base + at, delimiters)
                number += 1
                position = start
                if tag == "IEA":
                    expect_isa = True
                    break
            continue
        terminator = buffer.find(delimiters.segment, position)
        while terminator < 0:
            searched = len(buffer)
            if not fill():
                rest = buffer[position:].strip(_WHITESPACE)
                shown = rest if len(rest) <= 60 else rest[:57] + "..."
                raise FileFormatError(
                    f"the file ends in the middle of a segment (no {delimiters.segment!r} terminator): "
                    "it looks truncated",
                    path=path,
                    position=f"segment {number}: {shown}",
                )
            terminator = buffer.find(delimiters.segment, searched)
        text = buffer[position:terminator]
        if delimiters.segment == "\n" and text.endswith("\r"):
            text = text[:-1]
        elements = text.split(delimiters.element)
        tag = elements[0]
        if not tag or len(tag) > 3 or not tag.isalnum():
            raise _not_a_segment(tag, text, path, number)
        yield Segment(elements, number, base + position, delimiters)
        number += 1
        position = terminator + 1
        if tag == "IEA":
            expect_isa = True


def _not_a_segment(tag: str, text: str, path: str, number: int) -> FileFormatError:
    """The error for a segment whose identifier is not one (both tokenizer paths raise it)."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return FileFormatError(f"{tag!r} is not a segment identifier", path=path, position=f"segment {number}: {shown}")
