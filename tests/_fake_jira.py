"""A local fake of exactly the Jira Data Center REST API v2 endpoints wisbot's mirror uses
(JIRA cannot run here). It speaks their real request and answer shapes:

- ``POST /rest/api/2/issue`` {"fields": {...}} → 201 {"id", "key", "self"}
- ``GET  /rest/api/2/issue/{key}?fields=`` → {"key", "fields": {"status": {"name"}, ...}}
- ``GET  /rest/api/2/search?jql=&fields=&startAt=&maxResults=`` → {"startAt", "maxResults",
  "total", "issues": [...]}; the JQL understood is what wisbot sends: ``project = "P"``,
  ``labels = "L"``, ``updated >= "yyyy/MM/dd HH:mm"`` joined by AND, ``ORDER BY updated``
- ``GET  /rest/api/2/issue/{key}/transitions`` → {"transitions": [{"id", "name", "to"}]};
  ``POST`` {"transition": {"id"}} → 204 (any status to any other, as WIS2 IMS allows)
- ``GET  /rest/api/2/issue/{key}/comment`` → {"comments": [...]}; ``POST`` {"body"} → 201
- ``PUT  /rest/api/2/issue/{key}/assignee`` {"name"} → 204 (unknown user: 400)
- ``POST /rest/api/2/issue/{key}/watchers`` "username" (a JSON string) → 204

Every request needs ``Authorization: Bearer <token>`` (else 401). Faults for tests:
``fail_next`` (a list of status codes answered to the next requests, 429 with
``Retry-After``), ``slow`` (seconds every answer waits), ``stop()``/``start()`` (down).
``people_edit`` methods stand for a person working in JIRA's UI.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

STATUSES = ["TRIAGE", "TO DO", "IN PROGRESS", "IN REVIEW", "DONE"]
API = "/rest/api/2"


@dataclass
class Issue:
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    watchers: list[str] = field(default_factory=list)
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeJira:
    def __init__(self, token: str = "pat-secret", project: str = "WIS2IMS",
                 users: tuple[str, ...] = ()) -> None:
        self.token = token
        self.project = project
        self.users = set(users)
        self.issues: dict[str, Issue] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_next: list[int] = []
        self.retry_after = "2"
        self.slow = 0.0
        self._n = 0
        self._c = 0
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    # ----- lifecycle --------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(middlewares=[self._guard])
        r = app.router
        r.add_post(f"{API}/issue", self._create)
        r.add_get(f"{API}/issue/{{key}}", self._get)
        r.add_get(f"{API}/search", self._search)
        r.add_get(f"{API}/issue/{{key}}/transitions", self._transitions)
        r.add_post(f"{API}/issue/{{key}}/transitions", self._do_transition)
        r.add_get(f"{API}/issue/{{key}}/comment", self._comments)
        r.add_post(f"{API}/issue/{{key}}/comment", self._add_comment)
        r.add_put(f"{API}/issue/{{key}}/assignee", self._assign)
        r.add_post(f"{API}/issue/{{key}}/watchers", self._watch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if self.slow:
            await asyncio.sleep(self.slow)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"errorMessages": ["You are not authenticated."]},
                                     status=401)
        if self.fail_next:
            code = self.fail_next.pop(0)
            headers = {"Retry-After": self.retry_after} if code == 429 else {}
            return web.json_response({"errorMessages": [f"fault {code}"]}, status=code,
                                     headers=headers)
        result: web.StreamResponse = await handler(request)
        return result

    # ----- helpers ------------------------------------------------------------------------
    def _issue(self, request: web.Request) -> Issue:
        issue = self.issues.get(request.match_info["key"])
        if issue is None:
            raise web.HTTPNotFound(text='{"errorMessages":["Issue Does Not Exist"]}',
                                   content_type="application/json")
        return issue

    def _view(self, issue: Issue, with_comments: bool = True) -> dict[str, Any]:
        f = dict(issue.fields)
        f["updated"] = issue.updated.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if with_comments:
            f["comment"] = {"comments": list(issue.comments), "total": len(issue.comments)}
        return {"id": issue.key.split("-")[-1], "key": issue.key, "fields": f}

    def _touch(self, issue: Issue) -> None:
        issue.updated = datetime.now(UTC)

    # ----- endpoints ----------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        f = dict(body["fields"])
        if f.get("project", {}).get("key") != self.project:
            return web.json_response({"errors": {"project": "project is required"}},
                                     status=400)
        if f.get("priority", {}).get("name") not in ("Very High", "High", "Medium"):
            return web.json_response({"errors": {"priority": "not to be used"}}, status=400)
        self._n += 1
        key = f"{self.project}-{self._n}"
        f["status"] = {"name": "TRIAGE"}
        f["assignee"] = None
        self.issues[key] = Issue(key, f)
        return web.json_response({"id": str(self._n), "key": key,
                                  "self": f"{self.url}{API}/issue/{key}"}, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self._view(self._issue(request)))

    async def _search(self, request: web.Request) -> web.Response:
        jql = request.query.get("jql", "")
        start = int(request.query.get("startAt", "0"))
        size = int(request.query.get("maxResults", "50"))
        where = jql.split(" ORDER BY ")[0]
        found = list(self.issues.values())
        for clause in where.split(" AND "):
            m = re.fullmatch(r'\s*(\w+)\s*(=|>=)\s*"([^"]*)"\s*', clause)
            if m is None:
                return web.json_response({"errorMessages": [f"bad JQL: {clause}"]}, status=400)
            name, op, value = m.groups()
            if name == "project":
                found = [i for i in found if i.key.startswith(value + "-")]
            elif name == "labels":
                found = [i for i in found if value in i.fields.get("labels", [])]
            elif name == "updated" and op == ">=":
                since = datetime.strptime(value, "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
                found = [i for i in found if i.updated >= since]
            else:
                return web.json_response({"errorMessages": [f"bad JQL: {clause}"]}, status=400)
        found.sort(key=lambda i: i.updated)
        page = found[start:start + size]
        return web.json_response({"startAt": start, "maxResults": size, "total": len(found),
                                  "issues": [self._view(i) for i in page]})

    async def _transitions(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        now = issue.fields["status"]["name"]
        return web.json_response({"transitions": [
            {"id": str(10 + i), "name": s.title(), "to": {"name": s}}
            for i, s in enumerate(STATUSES) if s != now]})

    async def _do_transition(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        body = await request.json()
        i = int(body["transition"]["id"]) - 10
        if not 0 <= i < len(STATUSES) or STATUSES[i] == issue.fields["status"]["name"]:
            return web.json_response({"errorMessages": ["no such transition"]}, status=400)
        issue.fields["status"] = {"name": STATUSES[i]}
        self._touch(issue)
        return web.Response(status=204)

    async def _comments(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        return web.json_response({"comments": issue.comments, "total": len(issue.comments)})

    async def _add_comment(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        body = await request.json()
        c = self._comment(issue, body["body"], "wisbot-bot", "wisbot")
        return web.json_response(c, status=201)

    def _comment(self, issue: Issue, body: str, name: str, display: str) -> dict[str, Any]:
        self._c += 1
        c = {"id": str(1000 + self._c), "body": body,
             "author": {"name": name, "displayName": display}}
        issue.comments.append(c)
        self._touch(issue)
        return c

    async def _assign(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        body = await request.json()
        if body.get("name") not in self.users:
            return web.json_response({"errorMessages": [f"User '{body.get('name')}' does not "
                                                        "exist."]}, status=400)
        issue.fields["assignee"] = {"name": body["name"], "displayName": body["name"]}
        self._touch(issue)
        return web.Response(status=204)

    async def _watch(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        name = await request.json()
        if not isinstance(name, str) or name not in self.users:
            return web.json_response({"errorMessages": ["no such user"]}, status=400)
        if name not in issue.watchers:
            issue.watchers.append(name)
        return web.Response(status=204)

    # ----- a person working in JIRA's UI -------------------------------------------------
    def person_moves(self, key: str, status: str) -> None:
        self.issues[key].fields["status"] = {"name": status}
        self._touch(self.issues[key])

    def person_assigns(self, key: str, name: str) -> None:
        self.issues[key].fields["assignee"] = {"name": name, "displayName": name}
        self._touch(self.issues[key])

    def person_comments(self, key: str, body: str, name: str = "han.xinqiang",
                        display: str = "HAN Xinqiang") -> None:
        self._comment(self.issues[key], body, name, display)

    def by_label(self, label: str) -> list[Issue]:
        return [i for i in self.issues.values() if label in i.fields.get("labels", [])]
