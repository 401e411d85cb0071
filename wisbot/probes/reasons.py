"""What a probe found, in words: stored in English, shown in each reader's language
(:mod:`wisbot.i18n_stored`). A server's own message inside a reason stays as it sent it."""

from __future__ import annotations

from wisbot.i18n import N_
from wisbot.i18n_stored import REASONS

add = REASONS.add

# Transport (wisbot.probes.http)
LOOP = add(N_("redirect loop: {chain}"))
REDIRECTS = add(N_("more than {n} redirects (last to {last})"))
DECLARED = add(N_("response of {size} bytes declared, over the {cap}-byte cap; not downloaded"))
EXCEEDED = add(N_("response exceeded the {cap}-byte cap; download aborted"))
CTYPE = add(N_("expected {expected} but the server sent {ctype}"))
CONNECT_TIMEOUT = add(N_("could not connect within {seconds} s (connect timeout)"))
READ_TIMEOUT = add(N_("server sent nothing for {seconds} s (read timeout)"))
TIMED_OUT = add(N_("timed out: {error}"))
CERT = add(N_("TLS certificate verification failed: {error}"))
TLS = add(N_("TLS handshake failed: {error}"))
REFUSED = add(N_("connection refused (nothing listening on that port)"))
DNS = add(N_("host name does not resolve (DNS)"))
CONNECT = add(N_("cannot connect: {error}"))
PROTOCOL = add(N_("server broke the HTTP exchange: {error}"))
URL = add(N_("invalid URL: {error}"))
DECODING = add(N_("undecodable response body: {error}"))
HTTP = add(N_("HTTP failure ({kind}): {error}"))

# Any probe (wisbot.probes.base)
TOTAL_TIMEOUT = add(N_("no complete answer within {seconds} s (total timeout: server too slow or "
                       "trickling data)"))
PROBE_ERROR = add(N_("probe error {id}: {kind}: {error}"))

# Global Brokers (wisbot.probes.broker)
BROKER_REFUSED = add(N_("broker refused the connection ({error})"))
BROKER_CONNECT = add(N_("cannot connect to the broker: {error}"))
BROKER_TIMEOUT = add(N_("could not connect to the broker within {seconds} s"))
BROKER_CLOSED = add(N_("broker closed the subscription before the window ended"))
BROKER_FAILED = add(N_("broker connection failed during the probe: {error}"))
BROKER_OPEN = add(N_("broker accepted a publish from everyone"))
BROKER_QUIET = add(N_("no messages on {topic} within {seconds} s"))

# OAI-PMH (wisbot.probes.oaipmh)
NOT_OAI = add(N_("not an OAI-PMH response (root element {root})"))
OAI_IDENTIFY_ERROR = add(N_("Identify answered with OAI-PMH error {code}: {error}"))
OAI_NO_IDENTIFY = add(N_("OAI-PMH answer to Identify has no Identify element"))
OAI_ENDLESS = add(N_("list did not end within {pages} pages; counted {listed} so far"))
OAI_LIST_ERROR_PAGE = add(N_("ListIdentifiers on page {page} answered with OAI-PMH error {code}: "
                             "{error}"))
OAI_LIST_ERROR = add(N_("ListIdentifiers answered with OAI-PMH error {code}: {error}"))
OAI_TOKEN_AGAIN = add(N_("resumption token {token} came back after {pages} pages; paging "
                         "stopped, count of {count} may be incomplete"))

# SRU (wisbot.probes.sru)
NOT_SRU = add(N_("not an SRU searchRetrieve response (root element {root})"))
SRU_DIAGNOSTIC = add(N_("SRU diagnostic {uri}: {message}"))
SRU_NO_COUNT = add(N_("SRU answer has no usable numberOfRecords ({count})"))

# WIS 2.0 services (wisbot.probes.wis2)
NOT_JSON = add(N_("answer is not valid JSON: {error}"))
GDC_NOT_OBJECT = add(N_("catalogue answer is not a JSON object"))
GDC_NO_COUNT = add(N_("catalogue answer has no usable numberMatched ({count})"))
CACHE_METHOD = add(N_("unknown integrity method {method} in the notification"))
CACHE_INCOMPLETE = add(N_("download incomplete: Content-Length {declared} but {size} bytes "
                          "arrived"))
CACHE_SIZE = add(N_("downloaded {size} bytes, the notification says {expected}"))
CACHE_INTEGRITY = add(N_("integrity check failed ({method} differs)"))
PROM_NOT_OBJECT = add(N_("Prometheus answer is not a JSON object"))
PROM_REFUSED = add(N_("Prometheus refused the query ({kind}: {error})"))
PROM_UNEXPECTED = add(N_("unexpected Prometheus result for {query}"))
PROM_MALFORMED = add(N_("malformed Prometheus sample for {query}"))
MONITOR_PARTLY = add(N_("monitor reachable but {failed} of {total} indicators failed ({name}: "
                        "{error})"))

# Another GISC's monitor.json (wisbot.probes.wismon)
WISMON_INVALID = add(N_("monitor.json does not follow WIS Monitor JSON 1.0: {what}"))
WISMON_NOT_JSON = add(N_("monitor.json is not valid JSON: {error}"))
WISMON_NO_TIME = add(N_("monitor.json timestamp unreadable"))
WISMON_STALE = add(N_("monitor.json is stale: last updated {at}"))
WISMON_DOWN = add(N_("GISC reports down: {services}"))
WISMON_REPORTED_DOWN = add(N_("reported down in {centre}'s monitor.json"))

# XML (wisbot.probes.xmlsafe)
XML_DTD = add(N_("XML with a document type declaration (DTD) refused: entity declarations can "
                 "read local files (XXE) or exhaust memory (billion laughs)"))
XML_MALFORMED = add(N_("malformed XML: {error}"))
XML_TRUNCATED = add(N_("malformed or truncated XML: {error}"))
XML_EMPTY = add(N_("empty XML document"))

# GISC Watch ticket findings made from probe results (wisbot.services.watch)
FINDING_UNREACHABLE = add(N_("GISC {gisc} unreachable: no service answers"))
FINDING_NOT_ACTIVE = add(N_("{service} not active ({reason})"))
FAILED = add(N_("failed"))

# GISC Watch anomalies (wisbot.probes.anomalies), in the daily post
OUTLIER_LOW_ONLY = add(N_("{centre} has only {value} records; the other {others} centres' median "
                          "is {median} ({share} of it)"))
OUTLIER_LOW = add(N_("{centre} has {value} records; the other {others} centres' median is "
                     "{median} ({share} of it)"))
OUTLIER_HIGH = add(N_("{centre} has {value} records; the other {others} centres' median is "
                      "{median} ({times}× it)"))
NO_FIGURE = add(N_("{centre}: no figure today (yesterday {before})"))
FROM_ZERO = add(N_("{centre}: from 0 to {now}"))
ROSE = add(N_("{centre}: rose {pct}% in a day, from {before} to {now} (threshold {threshold}%)"))
FELL = add(N_("{centre}: fell {pct}% in a day, from {before} to {now} (threshold {threshold}%)"))
COLLAPSED = add(N_("Global Broker {broker}: message count collapsed by {pct}%, from {before} "
                   "to {now} messages in 24 h"))
COLLAPSED_TO_NONE = add(N_("Global Broker {broker}: message count collapsed by {pct}%, from "
                           "{before} to no messages at all in 24 h"))
