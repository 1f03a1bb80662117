"""A page's tags, text and scripts, for the tests that read the served HTML without a browser."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Every start tag with its attributes, the text, and each <script>'s own content."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._in_script: dict[str, str] | None = None
        self._script_text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append((tag, found))
        if tag == "script":
            self._in_script, self._script_text = found, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._script_text)))
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self._script_text.append(data)
        else:
            self.text.append(data)

    def find(self, tag: str | None = None, **wanted: str) -> list[dict[str, str]]:
        """Tags named ``tag`` (any when None) whose attributes hold ``wanted`` (``class_``: one
        of the classes; ``for_``: the ``for`` attribute)."""
        out = []
        for name, attrs in self.tags:
            if tag is not None and name != tag:
                continue
            ok = True
            for key, value in wanted.items():
                if key == "class_":
                    ok = ok and value in attrs.get("class", "").split()
                else:
                    ok = ok and attrs.get(key.rstrip("_").replace("_", "-")) == value
            if ok:
                out.append(attrs)
        return out

    def one(self, tag: str | None = None, **wanted: str) -> dict[str, str]:
        found = self.find(tag, **wanted)
        assert len(found) == 1, (tag, wanted, found)
        return found[0]
