"""The line reader: every line once, in order, with its number, resume offset and length cap,
in batches that respect their limits, whatever the block boundaries."""

from __future__ import annotations

import gzip

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.ingest import sources
from detector.ingest.sources import LineReader

KEEP = sources._KEEP_OF_LONG_LINE


def model(data: bytes, max_line: int) -> list[tuple[bytes, int | None, int]]:
    """(line, its length when it is over ``max_line``, end offset) per line."""
    out, offset = [], 0
    parts = data.split(b"\n")
    for k, line in enumerate(parts):
        last = k == len(parts) - 1
        if last and not line:
            break
        offset += len(line) + (0 if last else 1)
        cut = len(line) if len(line) > max_line else None
        out.append((line, cut, offset))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"x")), max_size=40),
       st.booleans(), st.integers(1, 9), st.integers(1, 7), st.integers(1, 80),
       st.integers(1, 25))
def test_batches_match_a_line_model(tmp_path_factory, lines, final_newline, block, max_lines,
                                    max_bytes, max_line):
    lines = [b"{first}", *lines]  # no compression magic at the start of the file
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    path = tmp_path_factory.mktemp("lr") / "f.jsonl"
    path.write_bytes(data)
    old_block = sources._BLOCK
    sources._BLOCK = block  # block boundaries anywhere, also inside lines
    try:
        reader = LineReader(path, max_line_bytes=max_line)
        batches = list(reader.batches(max_lines, max_bytes))
    finally:
        sources._BLOCK = old_block
    want = model(data, max_line)
    got, number = [], 1
    for b in batches:
        assert b.lines and len(b.lines) <= max_lines
        assert b.first_line == number
        assert sum(len(x) for x in b.lines[:-1]) < max_bytes or len(b.lines) == 1
        for k, line in enumerate(b.lines):
            got.append((line, b.too_long.get(k)))
        number += len(b.lines)
        assert b.end_offset == want[number - 2][2]
    assert [cut for _, cut in got] == [cut for _, cut, _ in want]
    for (line, cut), (true, _, _) in zip(got, want, strict=True):
        if cut is None:
            assert line == true
        else:  # a cut line keeps a prefix: at least max_line + 1 bytes, at most KEEP
            assert true.startswith(line) and min(max_line, KEEP) <= len(line) <= KEEP
    assert batches[-1].unterminated == (not data.endswith(b"\n"))
    assert reader.offset == len(data) and reader.line_no == len(want)


def test_resume_from_an_offset(tmp_path):
    lines = [f"line {i}".encode() for i in range(50)]
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    first = next(LineReader(path).batches(20))
    rest = list(LineReader(path, first.end_offset, 20).batches(20))
    assert [b.first_line for b in rest] == [21, 41]
    assert [x for b in rest for x in b.lines] == lines[20:]
