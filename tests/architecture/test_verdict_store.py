"""The verdict store (``detector/verdicts/``) is the only code that names the verdict files.

A grep, like the import-linter layer contract: any module of the package outside
``detector/verdicts/`` that spells the verdict file name, the verdict folder property or builds
the folder by hand fails, so a new reader or writer has to go through the store.
"""

from __future__ import annotations

import re
from pathlib import Path

import detector

PACKAGE = Path(detector.__file__).resolve().parent
#: where the home layout is declared: ``Settings.verdicts_dir`` (read by the store only)
DECLARED = {"settings.py": {"verdicts_dir", '/ "verdicts"'}}
FORBIDDEN = {
    "verdicts.parquet": re.compile(r"verdicts\.parquet"),
    "verdicts_dir": re.compile(r"\bverdicts_dir\b"),
    '/ "verdicts"': re.compile(r"""/\s*["']verdicts["']"""),
}


def offenders(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("verdicts/"):
            continue
        allowed = DECLARED.get(rel, set())
        text = path.read_text(encoding="utf-8")
        for no, line in enumerate(text.splitlines(), 1):
            for name, pattern in FORBIDDEN.items():
                if name not in allowed and pattern.search(line):
                    out.append(f"{path.relative_to(root.parent)}:{no}: {name}: {line.strip()}")
    return out


def test_only_the_verdict_store_names_verdict_files():
    found = offenders()
    assert not found, ("verdict files are read and written through detector.verdicts only "
                       "(path, read, write_verdict_day, annotate):\n" + "\n".join(found))


def test_the_check_finds_a_hand_built_path(tmp_path):
    pkg = tmp_path / "detector"
    (pkg / "verdicts").mkdir(parents=True)
    (pkg / "verdicts" / "paths.py").write_text('FILE = "verdicts.parquet"\n')
    (pkg / "report.py").write_text('p = home / "verdicts" / "date=x"\n'
                                   "q = settings.verdicts_dir\n")
    found = offenders(pkg)
    assert [f.split(": ")[1] for f in found] == ['/ "verdicts"', "verdicts_dir"]
