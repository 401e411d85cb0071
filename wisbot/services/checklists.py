"""An incident's checklist, from the incident model it was reported with: the checklist
is kept in the timeline's ``model`` entry as it was when reported (a later change of the
model file does not change it), and each tick is a ``checked`` timeline entry."""

from __future__ import annotations

from sqlmodel import Session, col, select

from wisbot.domain.confidentiality import Vis
from wisbot.errors import InvalidState, UsageError
from wisbot.i18n import _
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService
from wisbot.services.render import actor_label, incident_tlp, timeline_msg
from wisbot.store.tables import Incident, TimelineEntry


def _entries(session: Session, inc: Incident, kind: str) -> list[TimelineEntry]:
    return list(session.exec(select(TimelineEntry).where(
        TimelineEntry.incident_id == inc.id, TimelineEntry.kind == kind)
        .order_by(col(TimelineEntry.id))).all())


class Checklists:
    def __init__(self, incidents: IncidentService) -> None:
        self.incidents = incidents

    async def check(self, caller: Caller, number: str, n: int | None) -> Reply:
        """Tick item ``n`` (the timeline keeps who and when), or show the checklist."""
        svc = self.incidents

        def work(session: Session) -> Reply:
            # Locked: two ticks at once see each other's.
            inc, _vis = svc._visible(session, caller, number, Vis.NAMED, lock=n is not None)
            models = _entries(session, inc, "model")
            if not models:
                raise InvalidState(_("{number} has no checklist: it was not reported with an "
                                     "incident model (`models` lists them)",
                                     number=inc.number))
            model = models[-1]
            raw = model.data.get("checklist")
            items = [str(i) for i in raw] if isinstance(raw, list) else []
            ticked = {int(str(e.data.get("n", 0))): e
                      for e in _entries(session, inc, "checked") if (e.id or 0) > (model.id or 0)}
            if n is not None:
                if not 1 <= n <= len(items):
                    raise UsageError(_("the checklist of {number} has items 1 to {last}, not "
                                       "{n}", number=inc.number, last=len(items), n=n))
                if n in ticked:
                    raise InvalidState(_("item {n} of {number} was already ticked by {who}",
                                         n=n, number=inc.number,
                                         who=actor_label(svc.directory, ticked[n].actor, inc,
                                                         Vis.NAMED)))
                svc._may_change(caller, inc, _("tick the checklist of"))
                entry = svc._timeline(session, inc, caller, "checked", f"{n}. {items[n - 1]}",
                                      {"n": n, "model": model.data.get("model"),
                                       **timeline_msg("checked", n=n, item=items[n - 1])})
                session.flush()
                ticked[n] = entry
            b = ReplyBuilder(_("{number} – checklist: {model}", number=inc.number,
                               model=model.text), tlp=incident_tlp(inc))
            b.reveal(inc.number)
            for i, item in enumerate(items, 1):
                done = ticked.get(i)
                mark = "☑" if done else "☐"
                line: list[Span | str] = [bold(f"{mark} {i}. "), user(item)]  # data: as written
                if done:
                    who = actor_label(svc.directory, done.actor, inc, Vis.NAMED)
                    line.append(Span(text=f" ({who})"))
                b.line(*line)
            b.line(_("{done} of {total} done.", done=len(ticked), total=len(items)))
            return b.build(private=True)

        return await svc.store.tx(work)
