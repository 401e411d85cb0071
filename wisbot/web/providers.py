"""The identity providers: a Matrix homeserver (OpenID userinfo) and Slack (OpenID Connect).

Each answers "which chat identity is this?"; the directory then names the person
(``chat.matrix`` / ``chat.slack``). A provider that cannot be reached or refuses is a
:class:`SignInRefused` with a sentence for the page, never a traceback.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from wisbot.i18n import N_
from wisbot.settings import Settings

TIMEOUT = httpx.Timeout(10.0)
_SERVER_NAME = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


class SignInRefused(Exception):
    """Not signed in; ``str(exc)`` is safe to show (it names no secret)."""


# ----- Matrix ---------------------------------------------------------------------------

def matrix_servers(settings: Settings) -> dict[str, str]:
    """Homeserver name → base URL of the homeservers whose tokens are believed."""
    out: dict[str, str] = {}
    if settings.matrix_homeserver and settings.matrix_user_id and ":" in settings.matrix_user_id:
        out[settings.matrix_user_id.split(":", 1)[1].casefold()] = settings.matrix_homeserver
    for item in settings.web_matrix_servers:
        name, sep, url = item.partition("=")
        if sep and name.strip() and url.strip():
            out[name.strip().casefold()] = url.strip()
    return out


async def matrix_user(settings: Settings, server_name: str, token: str,
                      *, client: httpx.AsyncClient | None = None) -> str:
    """The Matrix id the homeserver ``server_name`` vouches for with this OpenID token
    (``GET /_matrix/federation/v1/openid/userinfo``). Only configured homeservers are
    asked, and the id must belong to the server asked: a server vouches for its own."""
    name = server_name.strip().casefold()
    if not _SERVER_NAME.match(name):
        raise SignInRefused(N_("not a homeserver name"))
    url = matrix_servers(settings).get(name)
    if url is None:
        raise SignInRefused(N_("this homeserver is not one wisbot accepts sign-ins from"))
    if not token.strip() or len(token) > 512:
        raise SignInRefused(N_("the token was refused"))
    endpoint = url.rstrip("/") + "/_matrix/federation/v1/openid/userinfo"
    try:
        async with _client(client) as http:
            r = await http.get(endpoint, params={"access_token": token.strip()})
    except httpx.HTTPError:
        raise SignInRefused(N_("the homeserver could not be reached; try again")) from None
    if r.status_code != 200:
        raise SignInRefused(N_("the token was refused (expired, used or not from this server)"))
    try:
        sub = r.json()["sub"]
    except (ValueError, KeyError, TypeError):
        raise SignInRefused(N_("the homeserver gave no identity")) from None
    if not isinstance(sub, str) or not sub.startswith("@") or ":" not in sub \
            or sub.split(":", 1)[1].casefold() != name:
        raise SignInRefused(N_("the homeserver vouched for an id that is not its own"))
    return sub


# ----- Slack (Sign in with Slack: OpenID Connect) -----------------------------------------

@dataclass(frozen=True)
class SlackIdentity:
    user_id: str
    team_id: str | None


def slack_enabled(settings: Settings) -> bool:
    return bool(settings.web_slack_client_id and settings.web_slack_client_secret)


def slack_authorize_url(settings: Settings, redirect_uri: str, state: str, nonce: str) -> str:
    query = {"response_type": "code", "scope": "openid", "client_id":
             settings.web_slack_client_id or "", "state": state, "nonce": nonce,
             "redirect_uri": redirect_uri}
    if settings.web_slack_team_id:
        query["team"] = settings.web_slack_team_id
    return settings.web_slack_api_url.rstrip("/") + "/openid/connect/authorize?" + \
        urlencode(query)


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of the ID token. It came straight from Slack's token endpoint over TLS,
    which OpenID Connect accepts in place of checking its signature (Core 3.1.3.7)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        raise SignInRefused(N_("Slack gave an unreadable ID token")) from None
    if not isinstance(claims, dict):
        raise SignInRefused(N_("Slack gave an unreadable ID token"))
    return claims


async def slack_user(settings: Settings, code: str, redirect_uri: str, nonce: str,
                     *, client: httpx.AsyncClient | None = None) -> SlackIdentity:
    """Exchange the code (``openid.connect.token``), check the ID token's nonce and
    audience, read ``openid.connect.userInfo``."""
    base = settings.web_slack_api_url.rstrip("/") + "/api/"
    secret = settings.web_slack_client_secret
    form = {"client_id": settings.web_slack_client_id or "", "client_secret":
            secret.get_secret_value() if secret else "", "code": code,
            "grant_type": "authorization_code", "redirect_uri": redirect_uri}
    try:
        async with _client(client) as http:
            r = await http.post(base + "openid.connect.token", data=form)
            body = r.json()
            if r.status_code != 200 or not body.get("ok"):
                raise SignInRefused(N_("Slack refused the sign-in code"))
            claims = _jwt_claims(str(body.get("id_token", "")))
            if claims.get("nonce") != nonce:
                raise SignInRefused(N_("the sign-in did not match the one started here"))
            aud = claims.get("aud")
            if aud != settings.web_slack_client_id and not (
                    isinstance(aud, list) and settings.web_slack_client_id in aud):
                raise SignInRefused(N_("the ID token was issued to another app"))
            info = await http.post(base + "openid.connect.userInfo", headers={
                "Authorization": f"Bearer {body.get('access_token', '')}"})
            user = info.json()
    except httpx.HTTPError:
        raise SignInRefused(N_("Slack could not be reached; try again")) from None
    except ValueError:
        raise SignInRefused(N_("Slack gave an unreadable answer")) from None
    if not user.get("ok"):
        raise SignInRefused(N_("Slack did not say who you are"))
    uid = user.get("https://slack.com/user_id")
    team = user.get("https://slack.com/team_id")
    if not isinstance(uid, str) or uid != claims.get("https://slack.com/user_id", uid):
        raise SignInRefused(N_("Slack did not say who you are"))
    if settings.web_slack_team_id and team != settings.web_slack_team_id:
        raise SignInRefused(N_("that Slack workspace is not this deployment's"))
    return SlackIdentity(uid, team if isinstance(team, str) else None)


class _client:
    """The given client (tests), or a fresh one closed afterwards."""

    def __init__(self, given: httpx.AsyncClient | None) -> None:
        self.given = given
        self.own: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        if self.given is not None:
            return self.given
        self.own = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        return self.own

    async def __aexit__(self, *exc: object) -> None:
        if self.own is not None:
            await self.own.aclose()
