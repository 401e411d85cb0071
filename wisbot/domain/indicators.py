"""Indicators of compromise: validated per type, kept canonical, shown defanged.

Values come from chat, so they are hostile until checked: anything with control or
invisible characters (bidi overrides, zero-width), inner whitespace, an over-long value or
a scheme other than http(s)/ftp is refused with a message saying why. Defanged values
(``hxxp://evil[.]example``) are accepted and refanged first, since that is how people
paste them. Chat shows them defanged again so no client makes a link of them.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna

from wisbot.errors import UsageError
from wisbot.i18n import N_, number
from wisbot.i18n import _ as _t

TYPES = ("domain", "url", "ipv4", "ipv6", "email", "hash", "cve")
TYPE_HELP = {
    "domain": N_("a host or domain name, e.g. evil.example"),
    "url": N_("an http, https or ftp URL"),
    "ipv4": N_("an IPv4 address, e.g. 203.0.113.7"),
    "ipv6": N_("an IPv6 address, e.g. 2001:db8::7"),
    "email": N_("an e-mail address"),
    "hash": N_("a file hash: MD5, SHA-1, SHA-256 or SHA-512 in hex (told apart by length)"),
    "cve": N_("a CVE identifier, e.g. CVE-2024-3400"),
}
HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
MAX_LENGTH = {"domain": 253, "url": 2048, "ipv4": 15, "ipv6": 45, "email": 320,
              "hash": 128, "cve": 20}
URL_SCHEMES = ("http", "https", "ftp")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_CVE = re.compile(r"^CVE-(\d{4})-(\d{4,7})$", re.IGNORECASE)
_REFANG = (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("[@]", "@"),
           ("[at]", "@"), ("[:]", ":"), ("[://]", "://"))
_HXXP = re.compile(r"^(hxxp|hxxps|fxp)(?=\[?:)", re.IGNORECASE)


@dataclass(frozen=True)
class Ioc:
    type: str
    value: str
    """Canonical: lower-case domains as IDNA A-labels, compressed IPv6, lower-case hex."""

    @property
    def kind(self) -> str:
        """The hash algorithm for a hash (``sha256``), else the type."""
        return HASH_KINDS[len(self.value)] if self.type == "hash" else self.type

    @property
    def defanged(self) -> str:
        return defang(self.type, self.value)


def _refuse(kind: str, why: str) -> UsageError:
    return UsageError(_t("not a valid {kind} indicator: {why}", kind=kind, why=why))


def _check_characters(kind: str, raw: str) -> None:
    limit = MAX_LENGTH[kind]
    if len(raw) > limit:
        raise _refuse(kind, _t("{length} characters long (the limit is {limit})",
                               length=number(len(raw)), limit=number(limit)))
    for ch in raw:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn") or cat.startswith("Z"):
            what = _t("whitespace") if ch.isspace() or cat.startswith("Z") else \
                _t("a control or invisible character")
            raise _refuse(kind, _t("it contains {what} ({code}); paste the value alone, "
                                   "without spaces or formatting",
                                   what=what, code=f"U+{ord(ch):04X}"))


def refang(raw: str) -> str:
    """A pasted defanged value back to its real form (``hxxp://evil[.]example``)."""
    out = raw
    for fanged, real in _REFANG:
        out = out.replace(fanged, real)
    m = _HXXP.match(out)
    if m:
        real = {"hxxp": "http", "hxxps": "https", "fxp": "ftp"}[m.group(1).lower()]
        out = real + out[m.end():]
    return out


def _domain(raw: str, kind: str = "domain") -> str:
    name = raw.rstrip(".")
    if not name:
        raise _refuse(kind, _t("empty host name"))
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _refuse(kind, f"{exc}") from None
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise _refuse(kind, _t("a domain has at least two labels (evil.example)"))
    if len(ascii_name) > 253:
        raise _refuse(kind, _t("longer than 253 characters once encoded"))
    for label in labels:
        if not _LABEL.match(label):
            raise _refuse(kind, _t("label {label} is not a valid host name label",
                                   label=repr(label[:40])))
    if labels[-1].isdigit():
        raise _refuse(kind, _t("the last label is a number: use type ipv4 for "
                                   "addresses"))
    return ascii_name


def parse(kind: str, raw: str) -> Ioc:
    """The canonical indicator of ``kind`` from ``raw``, or a :class:`UsageError` saying
    why it is refused."""
    kind = kind.strip().lower()
    if kind not in TYPES:
        raise UsageError(_t("indicator type must be one of {types}, not {kind!r}",
                            types=', '.join(TYPES), kind=kind))
    _check_characters(kind, raw)
    value = refang(raw)
    if kind == "domain":
        return Ioc(kind, _domain(value))
    if kind == "url":
        return Ioc(kind, _url(value))
    if kind == "ipv4":
        if not _IPV4.match(value):
            raise _refuse(kind, _t("four decimal numbers separated by dots, e.g. "
                                   "203.0.113.7"))
        try:
            return Ioc(kind, str(ipaddress.IPv4Address(value)))
        except ValueError as exc:
            raise _refuse(kind, str(exc)) from None
    if kind == "ipv6":
        if "%" in value or not re.fullmatch(r"[0-9A-Fa-f:.]+", value):
            raise _refuse(kind, _t("hexadecimal groups separated by colons, no zone"))
        try:
            return Ioc(kind, ipaddress.IPv6Address(value).compressed)
        except ValueError as exc:
            raise _refuse(kind, str(exc)) from None
    if kind == "email":
        local, at, host = value.rpartition("@")
        if not at or not local:
            raise _refuse(kind, _t("an address looks like name@example.org"))
        if len(local) > 64 or not _LOCAL.match(local):
            raise _refuse(kind, _t("the part before @ has characters an address may not "
                                   "have"))
        return Ioc(kind, f"{local}@{_domain(host, kind)}")
    if kind == "hash":
        if not _HEX.match(value) or len(value) not in HASH_KINDS:
            raise _refuse(kind, _t("hexadecimal of 32 (MD5), 40 (SHA-1), 64 (SHA-256) or 128 "
                                   "(SHA-512) characters; this has {length}",
                                   length=number(len(value))))
        return Ioc(kind, value.lower())
    m = _CVE.match(value)
    if not m:
        raise _refuse(kind, _t("CVE identifiers look like CVE-2024-3400"))
    return Ioc(kind, f"CVE-{m.group(1)}-{m.group(2)}")


def _url(value: str) -> str:
    scheme, sep, _ = value.partition(":")
    if not sep or scheme.lower() not in URL_SCHEMES:
        shown = scheme[:20] + ":" if sep else _t("no scheme")
        raise _refuse("url", _t("only {schemes} URLs are indicators, not {shown}",
                                schemes=', '.join(URL_SCHEMES), shown=shown))
    if not value.isascii():
        # The host may be an international name (encoded below); the rest must be
        # percent-encoded, as a browser sends it.
        head = urlsplit(value)
        if not (head.path + head.query + head.fragment).isascii():
            raise _refuse("url", _t("characters outside ASCII in the path: percent-encode "
                                    "them"))
    parts = urlsplit(value)
    if not value.lower().startswith(f"{parts.scheme}://") or not parts.hostname:
        raise _refuse("url", _t("a URL looks like https://evil.example/path"))
    host = parts.hostname
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
        shown_host = f"[{addr.compressed}]" if addr.version == 6 else str(addr)
    except ValueError:
        shown_host = _domain(host, "url")
    try:
        port = parts.port
    except ValueError:
        raise _refuse("url", _t("the port is not a number from 0 to 65535")) from None
    netloc = shown_host + (f":{port}" if port is not None else "")
    if parts.username is not None:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def defang(kind: str, value: str) -> str:
    """The value as chat shows it: no client makes a link of it."""
    if kind == "ipv4":
        head, _, last = value.rpartition(".")
        return f"{head}[.]{last}"
    if kind == "ipv6":
        return value.replace(":", "[:]")
    if kind in ("domain", "email"):
        return value.replace(".", "[.]").replace("@", "[@]")
    if kind == "url":
        scheme, sep, rest = value.partition("://")
        scheme = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(scheme, scheme)
        return scheme + (sep + rest.replace(".", "[.]").replace("@", "[@]") if sep else "")
    return value


_IN_TEXT = re.compile(
    r"(?P<url>\b(?:https?|ftp)://[^\s<>\"']+)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}\b)"
    r"|(?P<domain>\b(?:[\w-]+\.)+[^\W\d_][\w-]+\b)",
    re.IGNORECASE)


def defang_text(text: str) -> str:
    """A person's note with every URL, address and domain-like word in it defanged."""
    def one(m: re.Match[str]) -> str:
        kind = m.lastgroup or "domain"
        return defang({"ip": "ipv4"}.get(kind, kind), m.group(0))

    return _IN_TEXT.sub(one, text)
