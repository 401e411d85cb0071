"""XML parsing that a hostile server cannot turn against the bot.

Three layers: any ``<!DOCTYPE`` before the root element is refused outright (OAI-PMH and SRU
answers never need one, and it is where XXE and billion-laughs live); lxml runs with entity
resolution, DTD loading and network access off and ``huge_tree=False`` (depth / text-size
limits); and callers feed bytes already capped by ``http.iter_body``.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError, UnsafeXML

_DOCTYPE = b"<!DOCTYPE"
_DTD_REASON = r.XML_DTD.en()


def safe_parser_options() -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "huge_tree": False,
        "load_dtd": False,
        "dtd_validation": False,
    }


class SafeXMLStream:
    """Incremental parser: ``feed`` bytes, get ``(event, element)`` pairs as they complete."""

    def __init__(self, events: tuple[str, ...] = ("start", "end"),
                 tag: str | list[str] | None = None) -> None:
        """``tag``: report events only for these (Clark-notation) tags, which saves a
        Python call per other element of a large document."""
        extra = {} if tag is None else {"tag": tag}
        self._parser = etree.XMLPullParser(events=events, **safe_parser_options(), **extra)
        self._root_seen = False
        self.root: etree._Element | None = None
        """The document's root once :meth:`close` has run."""
        self._tail = b""  # catch a "<!DOCTYPE" split across two chunks

    def feed(self, data: bytes) -> Iterator[tuple[str, etree._Element]]:
        if not self._root_seen and _DOCTYPE in self._tail + data:
            raise UnsafeXML(_DTD_REASON)
        self._tail = data[-len(_DOCTYPE) :]
        try:
            self._parser.feed(data)
            yield from self._events()
        except etree.XMLSyntaxError as exc:
            raise ProbeError(r.XML_MALFORMED.en(error=exc)) from exc

    def close(self) -> Iterator[tuple[str, etree._Element]]:
        try:
            self.root = self._parser.close()
            if self.root is not None and not self._root_seen:
                self._root_seen = True
                if self.root.getroottree().docinfo.doctype:
                    raise UnsafeXML(_DTD_REASON)
            yield from self._events()
        except etree.XMLSyntaxError as exc:
            raise ProbeError(r.XML_TRUNCATED.en(error=exc)) from exc

    def _events(self) -> Iterator[tuple[str, etree._Element]]:
        for event, element in self._parser.read_events():
            if not self._root_seen:
                self._root_seen = True
                # second layer: a DTD that slipped past the byte scan (another encoding)
                if element.getroottree().docinfo.doctype:
                    raise UnsafeXML(_DTD_REASON)
            yield event, element


def parse_document(data: bytes) -> etree._Element:
    """Parse a small, already size-capped document in one go, with the same protections."""
    stream = SafeXMLStream(events=("start",))
    root: etree._Element | None = None
    for _, el in stream.feed(data):
        if root is None:
            root = el
    for _, el in stream.close():
        if root is None:
            root = el
    if root is None:
        raise ProbeError(r.XML_EMPTY.en())
    return root


def localname(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def namespace(element: etree._Element) -> str | None:
    ns = etree.QName(element).namespace
    return None if ns is None else str(ns)
