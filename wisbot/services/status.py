"""What an operator needs to see at a glance: leader and replicas, adapters, the outbox,
dead letters, held rooms, open pages and their next step, scheduled runs, who is on call.

Everything is read from the database in one transaction (so every replica shows the same
thing) except the adapters' connection state, which only the asking process knows: the
chat ``status`` command passes its own, ``wisbot status`` shows the replica rows instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func
from sqlmodel import Session, col, select

from wisbot.directory import Directory
from wisbot.domain.paging import Override, resolve_chain
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold
from wisbot.settings import Settings
from wisbot.store.ops_tables import JobRun, LeaderLease, Replica, RoomHold
from wisbot.store.paging_tables import OnCallOverrideRow, Page, PageDelivery, PageStep
from wisbot.store.tables import OutboxRow

REPLICA_STALE = timedelta(seconds=60)
"""A replica not seen for this long is shown as gone (it may have died without a word)."""


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return _t("never")
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return _t("in {span}", span=_span(-seconds))
    return _t("{span} ago", span=_span(seconds))


def _span(seconds: int) -> str:
    if seconds < 120:
        return _t("{seconds} s", seconds=seconds)
    if seconds < 7200:
        return _t("{minutes} min", minutes=seconds // 60)
    if seconds < 2 * 86400:
        return _t("{hours} h {minutes} min", hours=seconds // 3600,
                  minutes=seconds % 3600 // 60)
    return _t("{days} d", days=seconds // 86400)


@dataclass(frozen=True)
class LeaderInfo:
    name: str
    holder: str
    epoch: int
    until: datetime
    host: str
    valid: bool


@dataclass(frozen=True)
class ReplicaInfo:
    holder: str
    host: str
    pid: int
    role: str
    started_at: datetime
    seen_at: datetime
    alive: bool


@dataclass(frozen=True)
class HoldInfo:
    room_key: str
    reason: str
    detail: str
    since: datetime
    checked_at: datetime | None


@dataclass(frozen=True)
class PageInfo:
    id: int
    ref: str
    role: str
    paging: str | None
    """The contact paged now (``chain[pos]``)."""
    next_action: str | None
    next_due_at: datetime | None
    target_at: datetime


@dataclass(frozen=True)
class JobInfo:
    job: str
    schedule: str | None
    next_at: datetime | None
    last_period: str | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_status: str | None = None
    last_holder: str | None = None


@dataclass(frozen=True)
class Status:
    now: datetime
    version: str
    leaders: list[LeaderInfo]
    replicas: list[ReplicaInfo]
    adapters: dict[str, bool] | None
    """This process's adapters (chat); None when the asker runs none (the CLI)."""
    outbox: dict[str, int]
    oldest_pending_at: datetime | None
    deliveries: dict[str, int]
    """E-mail and webhook page deliveries by state."""
    oldest_delivery_at: datetime | None
    holds: list[HoldInfo]
    pages: list[PageInfo]
    jobs: list[JobInfo]
    oncall: dict[str, list[str]] = field(default_factory=dict)
    jira: dict[str, Any] | None = None
    """The WIS2 IMS mirror's queue (pending, refused, oldest pending, last error); None
    when JIRA is not configured."""

    @property
    def dead_letters(self) -> int:
        return self.outbox.get("dead", 0) + self.deliveries.get("dead", 0)

    def to_json(self) -> dict[str, Any]:
        def conv(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        data: dict[str, Any] = conv(asdict(self))
        data["dead_letters"] = self.dead_letters
        data["oldest_pending_age_s"] = (
            None if self.oldest_pending_at is None
            else round((self.now - self.oldest_pending_at).total_seconds(), 1))
        return data

    def lines(self, names: Mapping[str, str] | None = None) -> list[str]:
        """The report as plain lines (the CLI prints them, the chat command sends them);
        ``names`` turns contact ids into names."""
        names = names or {}
        now = self.now
        out: list[str] = [f"wisbot {self.version}, {now:%Y-%m-%d %H:%M:%S} UTC"]
        if self.leaders:
            for lease in self.leaders:
                state = _t("valid") if lease.valid else _t("EXPIRED")
                out.append(_t("Leader ({name}): {holder} on {host}, epoch {epoch}, lease "
                              "{state} until {until}", name=lease.name, holder=lease.holder,
                              host=lease.host or "?", epoch=lease.epoch, state=state,
                              until=f"{lease.until:%H:%M:%S}"))
        else:
            out.append(_t("Leader: none recorded (single process, or no leader elected yet)"))
        if self.replicas:
            out.append(_t("Replicas ({alive} alive):",
                          alive=sum(r.alive for r in self.replicas)))
            for r in self.replicas:
                gone = "" if r.alive else _t(" — NOT SEEN, presumed gone")
                out.append("  " + _t("{holder} {role} on {host} pid {pid}, up since {since}, "
                                     "seen {seen}", holder=r.holder, role=r.role, host=r.host,
                                     pid=r.pid, since=f"{r.started_at:%Y-%m-%d %H:%M}",
                                     seen=_ago(now, r.seen_at)) + gone)
        else:
            out.append(_t("Replicas: none recorded"))
        if self.adapters is not None:
            up, down = _t("connected"), _t("DISCONNECTED")
            words = ", ".join(f"{p} {up if ok else down}"
                              for p, ok in sorted(self.adapters.items()))
            out.append(_t("Adapters (this process): {words}", words=words or _t("none")))
        depth = ", ".join(f"{_state(k)} {v}" for k, v in sorted(self.outbox.items())) \
            or _t("empty")
        oldest = (_t("; oldest pending {ago}", ago=_ago(now, self.oldest_pending_at))
                  if self.oldest_pending_at else "")
        out.append(_t("Outbox: {depth}", depth=depth) + oldest)
        if self.deliveries:
            depth = ", ".join(f"{_state(k)} {v}" for k, v in sorted(self.deliveries.items()))
            oldest = (_t("; oldest pending {ago}", ago=_ago(now, self.oldest_delivery_at))
                      if self.oldest_delivery_at else "")
            out.append(_t("Page e-mail/webhook deliveries: {depth}", depth=depth) + oldest)
        out.append(_t("Dead letters: {count}", count=self.dead_letters)
                   + (" (wisbot outbox list)" if self.dead_letters else ""))
        if self.holds:
            out.append(_t("Held rooms ({count}):", count=len(self.holds)))
            for h in self.holds:
                detail = f": {h.detail}" if h.detail else ""
                out.append(f"  {h.room_key} — {h.reason}{detail}, "
                           + _t("since {ago}", ago=_ago(now, h.since)))
        else:
            out.append(_t("Held rooms: none"))
        if self.pages:
            out.append(_t("Open pages ({count}):", count=len(self.pages)))
            for p in self.pages:
                who = names.get(p.paging, p.paging) if p.paging else _t("nobody")
                step = (_t("next: {action} {ago}", action=p.next_action,
                           ago=_ago(now, p.next_due_at))
                        if p.next_action and p.next_due_at else _t("no step pending"))
                out.append(f"  P-{p.id} {p.ref} " + _t(
                    "for {role}: paging {who}; {step}; target {at} UTC", role=p.role, who=who,
                    step=step, at=f"{p.target_at:%H:%M}"))
        else:
            out.append(_t("Open pages: none"))
        out.append(_t("Scheduled jobs:"))
        for j in self.jobs:
            last = (_t("never run") if j.last_started_at is None else
                    _t("last {period} {status} {ago}", period=j.last_period,
                       status=_state(j.last_status or ""), ago=_ago(now, j.last_started_at))
                    + (_t(" by {holder}", holder=j.last_holder) if j.last_holder else ""))
            nxt = _t("next {at} UTC", at=f"{j.next_at:%Y-%m-%d %H:%M}") if j.next_at \
                else _t("not scheduled")
            plan = _schedule_words(j.schedule) if j.schedule else _t("no schedule here")
            out.append(f"  {j.job} ({plan}): {last}; {nxt}")
        if self.jira is not None:
            mq = self.jira
            oldest = (_t("; oldest pending {ago}", ago=_ago(now, mq["oldest_pending_at"]))
                      if mq.get("oldest_pending_at") else "")
            out.append(_t("WIS2 IMS mirror: {pending} change(s) pending", pending=mq["pending"])
                       + oldest + ", " + _t("{refused} refused", refused=mq["refused"])
                       + (_t("; last error: {error}", error=mq["last_error"])
                          if mq.get("last_error") else ""))
        if self.oncall:
            out.append(_t("On call now:"))
            for role, chain in self.oncall.items():
                words = " → ".join(names.get(c, c) for c in chain) or _t("NOBODY")
                out.append(f"  {role}: {words}")
        return out

    def reply(self, directory: Directory) -> Reply:
        names = {str(c.id): c.name for c in directory.contacts}
        b = ReplyBuilder(_t("wisbot status"))
        for i, text in enumerate(self.lines(names)):
            b.line(bold(text) if i == 0 else text)
        return b.build(private=True)


_STATES = {"pending": N_("pending"), "delivered": N_("delivered"), "dead": N_("dead"),
           "sent": N_("sent"), "failed": N_("failed"), "running": N_("running"),
           "discarded": N_("discarded"), "ok": N_("ok")}
"""Outbox, delivery and job states as the report shows them (the JSON keeps the codes)."""


def _state(code: str) -> str:
    found = _STATES.get(code)
    return str(found) if found is not None else code


def _schedule_words(plan: str) -> str:
    """A job's schedule (:func:`schedule`'s English words) in the current language."""
    if m := re.fullmatch(r"daily (\d\d:\d\d)", plan):
        return _t("daily {at}", at=m[1])
    if m := re.fullmatch(r"every (\d+) min", plan):
        return _t("every {n} min", n=m[1])
    if m := re.fullmatch(r"1 January (\d\d:\d\d)", plan):
        return _t("1 January {at}", at=m[1])
    return plan


# ----- schedule ------------------------------------------------------------------------

def schedule(settings: Settings) -> dict[str, tuple[str, BaseTrigger]]:
    """The scheduled jobs this configuration runs, by the names the scheduler gives them,
    with their triggers (all UTC)."""
    out: dict[str, tuple[str, BaseTrigger]] = {}
    if settings.watch_enabled:
        hh, mm = (int(x) for x in settings.watch_daily_time.split(":"))
        deadman = hh * 60 + mm + settings.watch_deadman_minutes
        out["watch-daily"] = (f"daily {hh:02d}:{mm:02d}",
                              CronTrigger(hour=hh, minute=mm, timezone=UTC))
        dh, dm = (deadman // 60) % 24, deadman % 60
        out["watch-deadman"] = (f"daily {dh:02d}:{dm:02d}",
                                CronTrigger(hour=dh, minute=dm, timezone=UTC))
        out["watch-reminders"] = (f"daily {(hh + 6) % 24:02d}:{mm:02d}",
                                  CronTrigger(hour=(hh + 6) % 24, minute=mm, timezone=UTC))
        out["watch-handover"] = ("every 15 min", IntervalTrigger(
            minutes=15, timezone=UTC, start_date=datetime(2000, 1, 1, tzinfo=UTC)))
        if settings.alerts_port is not None:
            out["alerts-digest"] = (f"daily {hh:02d}:{mm:02d}",
                                    CronTrigger(hour=hh, minute=mm, timezone=UTC))
    out["exchange-daily"] = (f"daily {settings.exchange_spot_hour:02d}:00",
                             CronTrigger(hour=settings.exchange_spot_hour, minute=0,
                                         timezone=UTC))
    out["annual-report"] = ("1 January 00:10", CronTrigger(month=1, day=1, hour=0, minute=10,
                                                           timezone=UTC))
    return out


def _next_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    return fire


# ----- collection ----------------------------------------------------------------------

def oncall_now(session: Session, directory: Directory, now: datetime) -> dict[str, list[str]]:
    """Who is paged, in order, for every on-call role at ``now`` (directory chains,
    rotations and overrides, and the overrides set by command)."""
    rows = session.exec(select(OnCallOverrideRow).where(
        col(OnCallOverrideRow.removed_at).is_(None))).all()
    by_role: dict[str, list[Override]] = {}
    for r in rows:
        start, end = _aware(r.start), _aware(r.end)
        assert start is not None and end is not None
        by_role.setdefault(r.role.casefold(), []).append(Override(r.contact, start, end))
    out: dict[str, list[str]] = {}
    for role in directory.oncall_roles():
        chain, rotations, overrides = directory.oncall_rules(role)
        out[role] = resolve_chain(now, chain, rotations,
                                  [*overrides, *by_role.get(role.casefold(), [])])
    return out


def database_now(session: Session) -> datetime:
    """The database server's clock (leases are written on it, so ``wisbot status`` on a
    machine whose clock is off still tells a valid lease from an expired one)."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(text("SELECT now()")).scalar_one()
    else:  # SQLite: 'YYYY-MM-DD HH:MM:SS' in UTC
        value = datetime.fromisoformat(
            str(session.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
                .scalar_one()))
    found = _aware(value)
    assert found is not None
    return found.astimezone(UTC)


def collect(session: Session, directory: Directory | None, settings: Settings,
            now: datetime | None = None, *, adapters: dict[str, bool] | None = None) -> Status:
    """The state at ``now`` (default: the database's clock)."""
    from wisbot import __version__

    if now is None:
        now = database_now(session)

    leaders = []
    for lease in session.exec(select(LeaderLease).order_by(col(LeaderLease.name))).all():
        until = _aware(lease.until)
        assert until is not None
        leaders.append(LeaderInfo(lease.name, lease.holder, lease.epoch, until, lease.host,
                                  until > now))
    replicas = []
    for r in session.exec(select(Replica).order_by(col(Replica.started_at))).all():
        seen, started = _aware(r.seen_at), _aware(r.started_at)
        assert seen is not None and started is not None
        replicas.append(ReplicaInfo(r.holder, r.host, r.pid, r.role, started, seen,
                                    now - seen <= REPLICA_STALE))
    outbox = {str(k): int(v) for k, v in session.exec(
        select(OutboxRow.status, func.count()).group_by(col(OutboxRow.status))).all()}
    oldest = _aware(session.exec(select(func.min(OutboxRow.created_at))
                                 .where(col(OutboxRow.status) == "pending")).one())
    deliveries = {str(k): int(v) for k, v in session.exec(
        select(PageDelivery.status, func.count()).group_by(col(PageDelivery.status))).all()}
    oldest_delivery = _aware(session.exec(select(func.min(PageDelivery.created_at))
                                          .where(col(PageDelivery.status) == "pending")).one())
    holds = [HoldInfo(h.room_key, h.reason, h.detail, _aware(h.since) or now,
                      _aware(h.checked_at))
             for h in session.exec(select(RoomHold).order_by(col(RoomHold.room_key))).all()]
    pages: list[PageInfo] = []
    open_pages = session.exec(select(Page).where(col(Page.status) == "open")
                              .order_by(col(Page.id))).all()
    for p in open_pages:
        step = session.exec(select(PageStep).where(PageStep.page_id == p.id,
                                                   PageStep.status == "pending")
                            .order_by(col(PageStep.seq)).limit(1)).first()
        chain = list(p.chain)
        target = _aware(p.target_at)
        assert p.id is not None and target is not None
        pages.append(PageInfo(
            p.id, p.ref, p.role, chain[p.pos] if 0 <= p.pos < len(chain) else None,
            step.action if step else None, _aware(step.due_at) if step else None, target))
    planned = schedule(settings)
    latest = (select(JobRun.job, func.max(JobRun.started_at).label("at"))
              .group_by(col(JobRun.job)).subquery())
    last_runs: dict[str, JobRun] = {}
    for row in session.exec(select(JobRun).join(
            latest, (col(JobRun.job) == latest.c.job) & (col(JobRun.started_at) == latest.c.at))
            .order_by(col(JobRun.id))).all():
        last_runs[row.job] = row  # one row per job, its latest run
    jobs: list[JobInfo] = []
    for name in [*planned, *sorted(set(last_runs) - set(planned))]:
        words, trigger = planned.get(name, (None, None))
        run = last_runs.get(name)
        jobs.append(JobInfo(
            name, words, _next_fire(trigger, now) if trigger is not None else None,
            run.period if run else None, _aware(run.started_at) if run else None,
            _aware(run.finished_at) if run else None, run.status if run else None,
            run.holder if run else None))
    return Status(now=now, version=__version__, leaders=leaders, replicas=replicas,
                  adapters=adapters, outbox=outbox, oldest_pending_at=oldest,
                  deliveries=deliveries, oldest_delivery_at=oldest_delivery, holds=holds,
                  pages=pages, jobs=jobs,
                  oncall=oncall_now(session, directory, now) if directory is not None else {},
                  jira=_jira(session) if settings.jira_url else None)


def _jira(session: Session) -> dict[str, Any]:
    from wisbot.store.alerts_jira_tables import JiraChange

    waiting = session.exec(select(JiraChange).where(col(JiraChange.done).is_(False))
                           .order_by(col(JiraChange.id))).first()
    count = {bool(k): int(v) for k, v in session.exec(
        select(JiraChange.done, func.count()).where(col(JiraChange.dead).is_(False))
        .group_by(col(JiraChange.done))).all()}
    refused = session.exec(select(func.count()).select_from(JiraChange)
                           .where(col(JiraChange.dead).is_(True))).one()
    return {"pending": count.get(False, 0), "refused": int(refused),
            "oldest_pending_at": waiting.created_at if waiting else None,
            "last_error": waiting.last_error if waiting else None}


# ----- doctor --------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One finding of ``wisbot doctor``: ``level`` is ok, warning, error or unknown (the
    check could not tell)."""

    name: str
    level: str
    detail: str


EXEMPT_HOWTO = ("a homeserver admin exempts it: POST /_synapse/admin/v1/users/{user}/"
                "override_ratelimit with {{\"messages_per_second\": 0, \"burst_count\": 0}} "
                "(docs/matrix.md)")


async def matrix_checks(homeserver: str, user_id: str, *, access_token: str | None = None,
                        password: str | None = None, deadline: float = 60.0) -> list[Check]:
    """Whether the bot's account logs in, and whether Synapse exempts it from rate limits
    (a cascade to 225 rooms on the default limits takes minutes; exempt, seconds).

    The override can only be read with a server admin's token: with the bot's own
    (normally not an admin) the answer is "cannot tell". A password login uses a device
    of its own, logged out afterwards, so the running bot's device keeps its token.
    Everything together takes at most ``deadline`` seconds."""
    import asyncio

    try:
        async with asyncio.timeout(deadline):
            return await _matrix_checks(homeserver.rstrip("/"), user_id, access_token,
                                        password)
    except TimeoutError:
        return [Check("matrix", "error", f"{homeserver} did not answer within {deadline:.0f} s")]


async def _matrix_checks(base: str, user_id: str, access_token: str | None,
                         password: str | None) -> list[Check]:
    from urllib.parse import quote

    import httpx

    checks: list[Check] = []
    async with httpx.AsyncClient(base_url=base, timeout=20.0) as http:
        token = access_token
        logged_in = False
        if token is None:
            if password is None:
                return [Check("matrix login", "error", "set WISBOT_MATRIX_ACCESS_TOKEN or "
                              "WISBOT_MATRIX_PASSWORD")]
            try:
                r = await http.post("/_matrix/client/v3/login", json={
                    "type": "m.login.password", "password": password,
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "device_id": "WISBOT-DOCTOR",
                    "initial_device_display_name": "wisbot doctor"})
            except httpx.HTTPError as exc:
                return [Check("matrix login", "error", f"{base} cannot be reached: {exc}")]
            if r.status_code != 200:
                return [Check("matrix login", "error",
                              f"login as {user_id} refused: {_matrix_error(r)}")]
            token, logged_in = str(r.json()["access_token"]), True
        headers = {"Authorization": f"Bearer {token}"}
        try:
            r = await http.get("/_matrix/client/v3/account/whoami", headers=headers)
            if r.status_code != 200:
                return [Check("matrix login", "error",
                              f"the access token is refused: {_matrix_error(r)}")]
            who = str(r.json().get("user_id"))
            if who != user_id:
                checks.append(Check("matrix login", "error", f"the access token belongs to "
                                    f"{who}, not WISBOT_MATRIX_USER_ID {user_id}"))
                return checks
            checks.append(Check("matrix login", "ok", f"{who} on {base}"))
            r = await http.get(f"/_synapse/admin/v1/users/{quote(user_id)}/override_ratelimit",
                               headers=headers)
            checks.append(_exemption(user_id, r.status_code, _json(r)))
        except httpx.HTTPError as exc:
            checks.append(Check("matrix", "error", f"{base} cannot be reached: {exc}"))
        finally:
            if logged_in:
                try:
                    await http.post("/_matrix/client/v3/logout", headers=headers)
                except httpx.HTTPError:
                    pass
    return checks


def _json(r: Any) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _matrix_error(r: Any) -> str:
    body = _json(r)
    return f"HTTP {r.status_code} {body.get('errcode', '')} {body.get('error', '')}".strip()


def _exemption(user_id: str, status: int, body: dict[str, Any]) -> Check:
    name = "matrix rate limits"
    howto = EXEMPT_HOWTO.format(user=user_id)
    if status == 200:
        mps, burst = body.get("messages_per_second"), body.get("burst_count")
        if mps == 0 and burst == 0:
            return Check(name, "ok", f"{user_id} is exempt from Synapse's rate limits")
        if not body:
            return Check(name, "warning", f"{user_id} is NOT exempt from rate limits: a "
                         f"cascade to many rooms is paced by the homeserver; {howto}")
        return Check(name, "warning", f"{user_id} has raised limits ({mps} messages/s, "
                     f"burst {burst}), not an exemption; {howto}")
    if status in (401, 403):
        return Check(name, "unknown", f"cannot tell whether {user_id} is exempt: reading the "
                     f"override needs a server admin's token, and the bot is not an admin. "
                     f"To be sure, {howto}")
    return Check(name, "unknown", f"cannot tell whether {user_id} is exempt (HTTP {status}; "
                 "not a Synapse homeserver, or its admin API is not reachable from here)")
