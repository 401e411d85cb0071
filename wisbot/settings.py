"""Configuration, read once: ``WISBOT_*`` environment variables over an optional TOML file
(``WISBOT_CONFIG=/etc/wisbot/wisbot.toml``) over the defaults below."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WISBOT_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///wisbot.db",
        description="SQLAlchemy URL: a SQLite file (default) or postgresql://user@host/db.",
        repr=False,  # it may carry a password
    )
    directory: Path = Field(default=Path("directory.yaml"),
                            description="The directory YAML file.")
    incident_models: Path | None = Field(
        default=None, description="A YAML file of incident models that adds to or replaces "
        "the shipped ones (docs/kedb.md); `wisbot reload` loads it again.")
    adapters: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["console"],
        description="Chat adapters to run, comma-separated: console, matrix, slack.")
    auto_migrate: bool = Field(default=False,
                               description="Migrate the database at start instead of refusing.")
    paging_threshold: int = Field(default=3, ge=0, le=5,
                                  description="Severity from which on-call paging starts.")
    max_text_length: int = Field(default=4000, ge=100,
                                 description="Longest command text accepted, in characters.")
    outbox_give_up_hours: float = Field(
        default=24.0, gt=0, description="A message still failing this long after its first "
        "failed try becomes a dead letter (kept; `wisbot outbox retry` resends it). Rate "
        "limits and outages only wait until then (a room the bot lost waits for the fix); "
        "a permanent error (bad content, unknown user) gives up at once, h.")
    outbox_max_attempts: int | None = Field(
        default=None, ge=1, description="Ignored: giving up is time-based "
        "(outbox_give_up_hours). Kept so older configuration files still load.")
    outbox_backoff_base: float = Field(default=1.0, gt=0, description="First retry delay, s.")
    outbox_backoff_max: float = Field(default=300.0, gt=0, description="Longest retry delay, s.")
    outbox_blocked_retry_seconds: float = Field(
        default=300.0, gt=0, description="How often a room the bot lost access to is "
        "retried (it is reported once to the Secretariat), s.")
    outbox_poll_interval: float = Field(default=1.0, gt=0,
                                        description="How often the outbox looks for work "
                                        "written by other processes, s.")
    outbox_lease_seconds: float = Field(default=10.0, gt=0,
                                        description="How long a room's lease lasts on the "
                                        "database's clock; renewed every third of it while "
                                        "the room is served, so a process that dies frees "
                                        "its rooms this fast, s.")
    outbox_concurrency: int = Field(default=32, ge=1,
                                    description="Rooms served (leased) at once by a process.")
    leader_lease_seconds: float = Field(default=15.0, gt=0,
                                        description="How long the leader lease lasts without "
                                        "renewal; a follower takes over after it, s.")
    leader_renew_seconds: float = Field(default=3.0, gt=0,
                                        description="How often the leader renews its lease "
                                        "and a follower looks for an expired one, s.")
    max_clock_skew: float = Field(default=5.0, gt=0,
                                  description="Largest difference between this machine's "
                                  "clock and the database's that wisbot accepts, s.")
    log_level: str = "INFO"
    language: str = Field(default="en", description="The deployment's default language "
                          "(ar, zh, en, fr, ru, es) for rooms and people with none set.")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        from wisbot import i18n

        code = i18n.check(value)
        if code not in i18n.LANGUAGES:
            raise ValueError(f"use one of {' '.join(i18n.LANGUAGES)}")
        return code

    query_limit: int = Field(default=5, ge=1, description="`incident query` requests one "
                             "person may send the WMO Secretariat per query_window_minutes "
                             "(each one pages the Secretariat).")
    query_window_minutes: int = Field(default=60, ge=1,
                                      description="The window of query_limit, minutes.")

    paging_steps: str = Field(
        default="0 page, 15 repeat, 30 next, 45 secretariat, 60 missed",
        description="Escalation steps of a page: '<minutes> <action>' (actions: page, "
        "repeat, next, secretariat, missed); 's' or 'h' suffixes allowed.",
    )
    paging_tick: float = Field(default=0.5, gt=0,
                               description="How often due page steps are looked for, s.")
    paging_batch: int = Field(default=200, ge=1,
                              description="Pages claimed per scheduler transaction.")
    paging_delivery_max_attempts: int = Field(
        default=8, ge=1, description="E-mail/webhook sends the receiver refused (HTTP 4xx, "
        "SMTP 5xx) before a dead letter.")
    paging_delivery_give_up_hours: float = Field(
        default=24.0, gt=0, description="An e-mail/webhook send that meets only outages "
        "(no connection, a deadline, HTTP 5xx/429, SMTP 4xx) is retried this long, h.")
    audit_holidays: str = Field(
        default="", description="Holidays skipped, besides weekends, when counting an "
        "audit's working days (the post-audit report is due 5 working days after the audit):"
        " ISO dates separated by commas, e.g. '2026-12-25,2027-01-01'.")

    @field_validator("audit_holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    date.fromisoformat(part.strip())
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not a date: use 2026-12-25, "
                                     "separated by commas") from None
        return value

    @property
    def audit_holiday_dates(self) -> tuple[date, ...]:
        return tuple(date.fromisoformat(p.strip()) for p in self.audit_holidays.split(",")
                     if p.strip())

    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail pages "
                                  "and the watch handover report; unset: no e-mail.")
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "wisbot@localhost"
    smtp_timeout: float = Field(default=30.0, gt=0,
                                description="Longest wait for one SMTP operation, s.")
    paging_webhook_url: str | None = Field(
        default=None, description="Paging service webhook: every page step is POSTed as JSON.",
        repr=False)  # a webhook URL is often its own credential
    paging_webhook_secret: SecretStr | None = Field(
        default=None, description="Signs webhook bodies: X-Wisbot-Signature: sha256=<hmac>.")
    paging_webhook_timeout: float = Field(default=10.0, gt=0,
                                          description="Longest wait for one webhook read "
                                          "or write, s.")
    # ----- overall deadlines (one slow peer delays only itself; docs/paging.md) -------
    smtp_deadline: float = Field(default=60.0, gt=0,
                                 description="Longest a whole SMTP exchange may take (connect "
                                 "to QUIT), s; a server trickling bytes is cut off then.")
    paging_webhook_deadline: float = Field(default=30.0, gt=0,
                                           description="Longest a whole webhook POST may "
                                           "take (connect to the end of the answer), s.")
    paging_delivery_concurrency: int = Field(default=16, ge=1, le=256,
                                             description="E-mail/webhook page sends in "
                                             "flight at once; each is its own task.")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Serve Prometheus /metrics on this port (0: any free port); unset: off.")
    metrics_host: str = Field(default="127.0.0.1", description="Address /metrics binds to.")

    matrix_homeserver: str | None = None
    matrix_user_id: str | None = None
    matrix_password: SecretStr | None = None
    matrix_access_token: SecretStr | None = None
    matrix_device_id: str = Field(default="WISBOT", description="Stable device id: the "
                                  "homeserver dedupes resent transaction ids per device.")
    matrix_e2e: bool = Field(default=False, description="End-to-end encryption (needs "
                             "wisbot[e2e]); encrypted rooms then work both ways.")
    matrix_store_path: Path | None = Field(
        default=None, description="Folder for the E2E crypto store; default: a "
        "'matrix-store' folder beside the SQLite database (or ./matrix-store).")
    matrix_late_after: float = Field(default=300.0, gt=0, description="A command older "
                                     "than this (s) when processed gets a 'late' note.")
    matrix_integrity_interval: float = Field(default=300.0, gt=0, description="How often "
                                             "every bound room's members are re-checked, s.")
    matrix_sync_timeout: float = Field(default=30.0, gt=0,
                                       description="Long-poll time of one /sync, s.")

    exchange_giscs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="GISCs whose OAI-PMH catalogues the exchange watch harvests "
        "(environment: comma-separated; default: every GISC with an oaipmh service in "
        "the directory).")
    exchange_first_lookback_days: int = Field(
        default=1, ge=0, description="A source never harvested before starts this many days "
        "back (0: the whole catalogue, once).")
    exchange_wismon_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="WIS Monitor JSON monitor.json documents read for "
        "cache_24h figures (besides each GISC's 'wismon' service; environment: comma-separated).")
    exchange_max_messages_24h: float | None = Field(
        default=500_000, description="Global Broker messages per 24 h from one centre above "
        "which its new records need review.")
    exchange_max_products_24h: float | None = Field(
        default=100_000, description="cache_24h products above which review is flagged.")
    exchange_max_bytes_24h: float | None = Field(
        default=50e9, description="cache_24h bytes above which review is flagged.")
    exchange_max_change_pct: float | None = Field(
        default=100.0, description="Day-on-day change (±%) of a figure that flags review.")
    exchange_reminder_days: float = Field(
        default=7.0, gt=0, description="Days after which GISCs that have not answered a "
        "consultation are reminded (and again every as many days).")
    exchange_post_daily: bool = Field(
        default=True, description="Post each GISC's exchange section to its room after the "
        "daily spot run; set false once the GISC Watch daily post includes it.")
    exchange_spot_hour: int = Field(default=5, ge=0, le=23,
                                    description="UTC hour of the daily exchange spot run.")
    change_agenda_hours: float = Field(
        default=24.0, gt=0, description="How long before a CAB meeting wisbot posts its "
        "agenda of pending changes, h (docs/changes.md).")
    change_remind_after_hours: float = Field(
        default=2.0, ge=0, description="How long after a CAB meeting wisbot reminds the "
        "board of the agenda items it left undecided, h.")
    change_tick_minutes: int = Field(
        default=15, ge=1, le=60, description="How often the CAB job looks for agendas and "
        "reminders due, min (a divisor of 60 keeps the slots on the hour).")
    exchange_harvest_deadline_s: float = Field(
        default=900.0, gt=0, description="Longest one source's harvest may take in a run, "
        "s; a harvest cut there goes on from its page at the next run.")
    exchange_harvest_concurrency: int = Field(
        default=4, ge=1, le=64, description="Catalogue harvests run at once.")

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_mode: Literal["socket", "http"] = Field(
        default="socket", description="socket: Socket Mode with the app token (no public "
        "endpoint); http: signed requests on slack_http_host:slack_http_port/slack/events.")
    slack_http_host: str = Field(default="127.0.0.1",
                                 description="HTTP mode: address to listen on.")
    slack_http_port: int = Field(default=3000, ge=0, le=65535,
                                 description="HTTP mode: port to listen on (0: any free).")
    slack_api_base_url: str | None = Field(
        default=None, description="Slack Web API base URL (default https://slack.com/api/).")
    slack_pace_seconds: float = Field(default=1.0, ge=0,
                                      description="Least time between posts to one channel, s.")
    slack_command_prefix: str = Field(
        default="", pattern=r"^[a-z0-9_-]{0,10}$",
        description="Prefix of the slash commands (`wis-`: /wis-incident, /wis-watch), so "
        "they do not clash with other apps in a shared workspace; the manifest "
        "(`wisbot slack manifest`) must be generated with the same prefix.")
    slack_integrity_interval: float = Field(
        default=600.0, ge=0, description="Seconds between room-integrity checks of the bound "
        "channels (also on start and on every join or leave); 0: only then.")

    @field_validator("adapters", "exchange_giscs", "exchange_wismon_urls", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):  # the JSON list form, WISBOT_ADAPTERS='["matrix"]'
                try:
                    parsed = json.loads(text)
                except ValueError:
                    raise ValueError("not a JSON list; give the values comma-separated, "
                                     "e.g. console,matrix") from None
                return [str(v).strip() for v in parsed if str(v).strip()]
            return [v.strip() for v in text.split(",") if v.strip()]
        return value

    # ----- GISC Watch (docs/watch.md) -------------------------------------------------
    watch_enabled: bool = Field(default=True, description="Run the GISC Watch scheduler "
                                "jobs (daily probes, dead-man's switch, reminders).")
    watch_daily_time: str = Field(default="00:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                  description="UTC time (HH:MM) of the daily probe run.")
    watch_deadman_minutes: int = Field(default=120, ge=10, le=23 * 60,
                                       description="How long after the daily time a run "
                                       "must have finished before the dead-man's switch "
                                       "tells the Secretariat and duty rooms, min.")
    watch_misfire_grace_s: int = Field(default=3600, ge=60,
                                       description="A daily run missed by a restart still "
                                       "starts within this many seconds; later, the "
                                       "dead-man's switch reports it instead, s.")
    watch_retention_days: int = Field(default=90, ge=31,
                                      description="Days of probe results kept (at least "
                                      "31: the one month of history GISC Watch needs).")
    watch_concurrency: int = Field(default=16, ge=1, le=256,
                                   description="Probes run at once in a sweep.")
    watch_probe_timeout_s: float = Field(default=30.0, gt=0,
                                         description="Total time one probe may take, s.")
    watch_outlier_ratio: float = Field(default=0.5, gt=0, lt=1,
                                       description="A GISC's record count below ratio × or "
                                       "above 1/ratio × the others' median is flagged.")
    watch_change_pct: float = Field(default=20.0, gt=0,
                                    description="Day-on-day change flagged, percent.")
    watch_collapse_pct: float = Field(default=80.0, gt=0, le=100,
                                      description="Broker message-count drop flagged, percent.")
    watch_stalled_days: int = Field(default=14, ge=1,
                                    description="Ticket reminders after this many quiet days.")
    watch_handover_remind_hours: float = Field(default=24.0, gt=0,
                                               description="Reminder interval to an incoming "
                                               "GISC that has not accepted, h.")
    watch_handover_deadline_hours: float = Field(default=72.0, gt=0,
                                                 description="No acceptance this long after "
                                                 "the report (or the period start, if "
                                                 "later): the GISC after the next is "
                                                 "contacted, h.")
    watch_escalation_contact: str | None = Field(default=None, description="Directory "
                                                 "contact id of the ET-WISOP chair.")
    watch_escalation_room: str | None = Field(default=None, description="Room key where "
                                              "ET-WISOP escalations are posted.")
    watch_ops_email: str | None = Field(default=None, description="The GISC operations "
                                        "mailing list, copied on handover e-mails.")
    wismon_dir: Path | None = Field(default=None, description="Folder the daily "
                                    "monitor.json, events.json, centres.json are written to.")
    wismon_centre: str | None = Field(default=None, description="The GISC this wisbot "
                                      "publishes monitor.json for (a directory GISC name).")
    wismon_host: str = Field(default="127.0.0.1", description="Address the WIS Monitor "
                             "JSON server listens on (loopback by default; put a reverse "
                             "proxy in front to publish).")
    wismon_port: int | None = Field(default=None, ge=0, le=65535,
                                    description="Port of the WIS Monitor JSON server; unset: "
                                    "no server, 0: any free port.")

    # ----- Global Monitor alerts and the WIS2 IMS mirror (docs/alerts.md, docs/jira.md)
    alerts_port: int | None = Field(default=None, ge=0, le=65535, description="Port of the "
                                    "Alertmanager webhook receiver; unset: no receiver.")
    alerts_host: str = Field(default="127.0.0.1", description="Address the alert receiver "
                             "listens on (loopback by default).")
    alerts_token: SecretStr | None = Field(default=None, description="Bearer token "
                                           "Alertmanager must send (required with alerts_port).")
    jira_url: str | None = Field(default=None, description="Jira Data Center base URL, e.g. "
                                 "https://jira.wmo.int; unset: no mirror.")
    jira_token: SecretStr | None = Field(default=None, description="Personal access token "
                                         "(sent as Authorization: Bearer).")
    jira_project: str = Field(default="WIS2IMS", description="The JIRA project key.")
    jira_issue_type: str = Field(default="Incident", description="Issue type of new issues.")
    jira_label: str = Field(default="wisbot", description="Label on every mirrored issue; "
                            "with wisbot-<ticket> it finds an issue again before creating.")
    jira_poll_seconds: int = Field(default=300, ge=10, description="How often changes made "
                                   "in JIRA are read back (JQL updated >= ...).")
    jira_timeout_s: float = Field(default=20.0, gt=0, description="Per request.")
    jira_lease_seconds: int = Field(default=120, ge=5, description="The mirror's lease: how "
                                    "fast another process takes over from a dead one.")
    # ----- WIS2 monitoring events (docs/wmem.md) ---------------------------------------
    wmem_brokers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Global Broker URLs to hear WIS2 monitoring events "
        "from (mqtts://host:8883, comma-separated); none: no subscriber.")
    wmem_topic: str = Field(default="monitor/a/wis2/#", description="Topic subscribed to.")
    wmem_username: str | None = Field(default=None, description="Broker user (a URL's own "
                                      "user wins).")
    wmem_password: SecretStr | None = Field(default=None, description="Broker password.")
    wmem_ca_file: Path | None = Field(default=None, description="CA bundle for mqtts.")
    wmem_replay_url: str | None = Field(default=None, description="Global Replay (OGC API "
                                        "Features) base URL for catching up after a gap.")
    wmem_replay_max_hours: float = Field(default=24.0, gt=0, description="Longest gap "
                                         "caught up from the replay, h.")
    wmem_keep_days: int = Field(default=90, ge=1, description="Days WIS2 monitoring events "
                                "heard and WMEMs sent are kept (then purged daily; events of "
                                "open tickets stay).")
    wmem_publish: bool = Field(default=False, description="Publish wisbot's own findings "
                               "as WMEMs (off: publishing to production brokers must be "
                               "deliberate).")
    wmem_publish_brokers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Broker URLs wisbot publishes its WMEMs to.")
    wmem_centre_id: str | None = Field(default=None, description="The deploying GISC's "
                                       "centre-id: the source of published WMEMs.")

    # ----- the web facility (docs/web.md) ------------------------------------------------
    web_enabled: bool = Field(default=False, description="Serve the web facility inside "
                              "`wisbot run` as well (`wisbot web` serves it alone).")
    web_host: str = Field(default="127.0.0.1", description="Address the web server binds "
                          "to (loopback: put a TLS reverse proxy in front).")
    web_port: int = Field(default=8080, ge=0, le=65535, description="Port of the web server "
                          "(0: any free port).")
    web_base_url: str | None = Field(default=None, description="The public address behind "
                                     "the proxy, e.g. https://wisbot.example.org: sign-in "
                                     "links and the Slack redirect use it.")
    web_dev: bool = Field(default=False, description="Local development over plain http: "
                          "cookies without Secure. Refused unless web_host is loopback.")
    web_forwarded_allow_ips: str = Field(default="127.0.0.1", description="Proxies whose "
                                         "X-Forwarded-For/-Proto are believed (uvicorn).")
    web_session_hours: float = Field(default=12.0, gt=0, description="A session lasts this "
                                     "long, h.")
    web_login_limit_ip: int = Field(default=20, ge=1, description="Sign-in attempts one IP "
                                    "address may make per 15 minutes.")
    web_login_limit_identity: int = Field(default=5, ge=1, description="Sign-in links "
                                          "asked for one e-mail address per 15 minutes.")
    web_matrix_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Matrix homeservers whose OpenID tokens are "
        "believed, 'server_name=https://url' comma-separated; the bot's own homeserver "
        "(matrix_homeserver, matrix_user_id) always is.")
    web_slack_client_id: str | None = Field(default=None, description="Sign in with Slack: "
                                            "the app's client id; unset: no Slack sign-in.")
    web_slack_client_secret: SecretStr | None = None
    web_slack_team_id: str | None = Field(default=None, description="Only this Slack "
                                          "workspace's people may sign in.")
    web_slack_api_url: str = Field(default="https://slack.com", description="Slack's base "
                                   "URL (tests point it at a local fake).")

    @field_validator("web_matrix_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: Any) -> Any:
        return cls._split(value)

    @field_validator("wmem_brokers", "wmem_publish_brokers", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        return cls._split(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("WISBOT_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        sources.append(file_secret_settings)
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """The settings; a bad value or an unknown key is a :class:`SettingsError` that names
    the file and line, the environment variable or the option, and the nearest setting."""
    import tomllib

    from pydantic import ValidationError

    from wisbot.settings_errors import SettingsError, Sources, describe

    config = os.environ.get("WISBOT_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError([f"environment variable WISBOT_CONFIG names {config}, which "
                             "does not exist (unset it to use the environment and the "
                             "defaults)"])
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"{config} is not valid TOML: {exc}"]) from None
    except ValidationError as exc:
        raise SettingsError(describe(exc, Settings.model_fields,
                                     Sources(overrides, config))) from None
