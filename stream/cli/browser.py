"""``sunlight alerts`` (and the live view of ``sunlight run``/``watch``): a terminal alert browser.

Built on Textual (a maintained TUI framework: widgets, key bindings, and a test pilot that
drives the real app in tests). It reads the alerts topic (from the beginning or only what comes
next) and ``alert-dispositions`` (always from the beginning, for the verdicts) on the broker,
without a consumer group, so it commits nothing and takes nothing from anyone.

Keys: ``/`` filter (``severity=red detector=a,b route=.. region=.. subject=..``; a bare word is
part of the subject), ``enter`` open an alert, ``c``/``d`` in an alert confirm/dismiss it
(``tab`` to the note field first to add a note, ``shift+tab`` back), ``escape`` back, ``q`` quit.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from alert_consumer import Alert, AlertFilter, read_alert
from schemas import RecordError, decode
from schemas.records import Disposition
from stream.cli.verdicts import disposition, send_disposition
from stream.config import Settings
from stream.kafka import partition_counts
from stream.privacy import mask
from stream.security import client_options

#: Alerts kept in memory (newest); the table shows the newest ``MAX_ROWS`` that match.
MAX_ALERTS = 100_000
MAX_ROWS = 5_000
FILTER_KEYS = {"detector": "detectors", "severity": "severities", "route": "routes",
               "region": "regions"}


def parse_filter(text: str) -> AlertFilter:
    """``severity=red region=330784,330110 subject=P-1`` -> AlertFilter (ValueError if a key
    is unknown).

    >>> chosen = parse_filter("severity=red region=330784,330110 P-1")
    >>> chosen.severities, sorted(chosen.regions), chosen.subject_contains, chosen.routes
    ({'red'}, ['330110', '330784'], 'P-1', None)
    """
    sets: dict[str, set[str]] = {}
    subject: str | None = None
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or key == "subject":
            subject = value if sep else token
        elif key in FILTER_KEYS:
            sets.setdefault(FILTER_KEYS[key], set()).update(v for v in value.split(",") if v)
        else:
            raise ValueError(f"unknown filter {key!r}: use {', '.join([*FILTER_KEYS, 'subject'])}")
    return AlertFilter(**sets, subject_contains=subject)


def describe(alert: Alert, verdict: Disposition | None) -> Text:
    """What a person reads to check an alert: summary, evidence, registry path, the observed
    value against the threshold, and its verdict. Plain text (never markup: alert text is data)."""
    data, evidence = alert.event["data"], alert.evidence
    lines = [
        f"{data['severity'].upper()}  {alert.detector} (version {alert.detector_version})  "
        f"action {alert.action}  score {alert.score:.2f}",
        f"id       {alert.id}", f"subject  {alert.subject}", f"time     {alert.time}",
        f"region   {alert.region or '-'}   route {alert.route}   sector {alert.sector}", "",
        "Summary", f"  {alert.summary}", "",
        f"Observed   {_plain(evidence.get('observed', '-'))}",
        f"Threshold  {_plain(evidence.get('threshold', '-'))}", "", "Evidence records",
    ]
    for record in evidence.get("records", []):
        fields = record.get("fields") or {k: v for k, v in record.items()
                                          if k not in ("topic", "event_id")}
        lines.append(f"  {record.get('topic', '?')} {record.get('event_id', '')}  "
                     f"{_plain(fields)}")
    lines += ["", "Registry path"]
    links = evidence.get("registry_links") or []
    lines += [f"  {link.get('path') or _plain(link)}" for link in links] or ["  (none)"]
    rest = {k: v for k, v in evidence.items()
            if k not in ("records", "registry_links", "observed", "threshold")}
    if rest:
        lines += ["", "More evidence", f"  {_plain(rest)}"]
    lines += ["", "Verdict"]
    if verdict is None:
        lines.append("  none recorded yet: c confirms, d dismisses "
                     "(tab: a note first; shift+tab: back)")
    else:
        lines.append(f"  {verdict['verdict']} by {verdict['decided_by']} at "
                     f"{verdict['decided_at']}" + (f": {verdict['note']}"
                                                   if verdict.get("note") else ""))
    return Text("\n".join(lines))


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class AlertScreen(ModalScreen[None]):
    """One alert, whole; ``c``/``d`` record a verdict."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss_screen", "back"),
                          Binding("c", "verdict('confirmed')", "confirm"),
                          Binding("d", "verdict('dismissed')", "dismiss")]

    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail")
        yield Input(placeholder="note for the verdict (optional); escape: back", id="note")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_detail()
        self.query_one("#detail-scroll").focus()

    def refresh_detail(self) -> None:
        browser: AlertBrowser = self.app  # type: ignore[assignment]
        self.query_one("#detail", Static).update(
            describe(self.alert, browser.verdicts.get(self.alert.id)))

    def action_dismiss_screen(self) -> None:
        self.dismiss()

    async def action_verdict(self, verdict: str) -> None:
        browser: AlertBrowser = self.app  # type: ignore[assignment]
        note = self.query_one("#note", Input).value.strip() or None
        await browser.dispose(self.alert.id, verdict, note)


class AlertBrowser(App[None]):
    """Alerts from the broker in a table with per-detector counts, a filter and a detail view."""

    TITLE = "Sunlight alerts"
    CSS = """
    #counts { height: auto; max-height: 12; }
    #alerts { height: 1fr; }
    #status { height: 1; color: $text-muted; }
    AlertScreen { align: center middle; }
    #detail-scroll { width: 95%; height: 1fr; border: round $accent; background: $surface; }
    #note { width: 95%; }
    """
    BINDINGS: ClassVar = [Binding("/", "focus_filter", "filter"),
                          Binding("escape", "focus_table", "table", show=False),
                          Binding("q", "quit", "quit"),
                          # Ctrl-C stops `sunlight run` and all it started, as it always did.
                          Binding("ctrl+c", "quit", "quit", show=False, priority=True)]

    def __init__(self, settings: Settings, from_beginning: bool = True,
                 status: Callable[[], str] | None = None, decided_by: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.from_beginning = from_beginning
        self.status_source = status
        self.decided_by = decided_by
        self.alerts: OrderedDict[str, Alert] = OrderedDict()
        self.verdicts: dict[str, Disposition] = {}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.invalid = 0
        self.filter = AlertFilter()
        self._dirty = False
        self._status_line = ""
        #: Set once reading starts at its place in the topics (the beginning, or the end).
        self.positioned = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="counts", cursor_type="none", zebra_stripes=True)
        yield Input(placeholder="/ filter: severity=red detector=.. route=.. region=.. "
                                "subject=.. (enter applies; empty: all)", id="filter")
        yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#counts", DataTable).add_columns("detector", "red", "yellow")
        self.query_one("#alerts", DataTable).add_columns(
            "time", "severity", "action", "detector", "region", "subject", "verdict")
        self.query_one("#alerts", DataTable).focus()
        self.run_worker(self._read(), exclusive=True, group="kafka")
        self.set_interval(0.5, self._redraw_if_changed)
        if self.status_source is not None:
            self.set_interval(2.0, self._poll_status)
        self._show_status()

    # -- reading the broker ------------------------------------------------------------
    async def _read(self) -> None:
        settings = self.settings
        alerts, dispositions = settings.topic("alerts"), settings.topic("alert-dispositions")
        counts: dict[str, int] = {}
        while not counts.get(alerts):  # `sunlight run` may still be creating the topics
            counts = await partition_counts(settings, (alerts, dispositions))
            if not counts.get(alerts):
                await asyncio.sleep(2.0)
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    enable_auto_commit=False,
                                    **client_options(settings.kafka_security))
        await consumer.start()
        try:
            alert_tps = [TopicPartition(alerts, p) for p in range(counts[alerts])]
            verdict_tps = [TopicPartition(dispositions, p)
                           for p in range(counts.get(dispositions, 0))]
            consumer.assign(alert_tps + verdict_tps)
            if verdict_tps:
                await consumer.seek_to_beginning(*verdict_tps)
            if self.from_beginning:
                await consumer.seek_to_beginning(*alert_tps)
            else:
                await consumer.seek_to_end(*alert_tps)
            for tp in alert_tps:  # resolve the positions now: "live" means from this moment
                await consumer.position(tp)
            self.positioned.set()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, messages in batches.items():
                    for message in messages:
                        if tp.topic == alerts:
                            self._add_alert(message)
                        else:
                            self._add_verdict(message.value)
        finally:
            await consumer.stop()

    def _add_alert(self, message: Any) -> None:
        try:
            alert = read_alert(message.value, message.topic, message.partition, message.offset)
        except RecordError:
            self.invalid += 1  # counted on the status line, never silently
            self._dirty = True
            return
        if alert.id in self.alerts:  # a redelivered alert: same id, shown once
            return
        self.alerts[alert.id] = alert
        if len(self.alerts) > MAX_ALERTS:
            self.alerts.popitem(last=False)
        self.counts[(alert.detector, alert.severity)] += 1
        self._dirty = True

    def _add_verdict(self, raw: bytes | None) -> None:
        try:
            record: Disposition = decode("alert-dispositions", raw or b"")  # type: ignore[assignment]
        except RecordError:
            return  # the worker dead-letters it
        self.verdicts[record["alert_id"]] = record
        self._dirty = True

    # -- showing -------------------------------------------------------------------------
    def _redraw_if_changed(self) -> None:
        """Redraw what changed, at most twice a second (a backlog arrives in thousands)."""
        if not self._dirty:
            return
        self._dirty = False
        self._redraw()

    def _redraw(self) -> None:
        counts = self.query_one("#counts", DataTable)
        counts.clear()
        for detector in sorted({d for d, _ in self.counts}):
            counts.add_row(detector, Text(str(self.counts[(detector, "red")]), style="red"),
                           Text(str(self.counts[(detector, "yellow")]), style="yellow"))
        table = self.query_one("#alerts", DataTable)
        selected = self._selected_id()
        table.clear()
        shown = [a for a in self.alerts.values() if self.filter.matches(a)][-MAX_ROWS:]
        for alert in shown:
            verdict = self.verdicts.get(alert.id)
            table.add_row(
                alert.time[:19], Text(alert.severity, style=alert.severity), alert.action,
                alert.detector, alert.region,
                mask(alert.subject, self.settings.mask_person_ids),
                verdict["verdict"] if verdict else "", key=alert.id)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        self._show_status(len(shown))
        if isinstance(self.screen, AlertScreen):
            self.screen.refresh_detail()

    def _selected_id(self) -> str | None:
        table = self.query_one("#alerts", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _show_status(self, shown: int | None = None) -> None:
        shown = len(self.alerts) if shown is None else shown
        line = (f"{shown} shown of {len(self.alerts)} alerts  {len(self.verdicts)} verdicts"
                + (f"  {self.invalid} not valid alerts" if self.invalid else "")
                + ("  (from the beginning)" if self.from_beginning else "  (live)"))
        if self._status_line:
            line += "   " + self._status_line
        self.query_one("#status", Static).update(Text(line))

    async def _poll_status(self) -> None:
        assert self.status_source is not None
        self._status_line = await asyncio.to_thread(self.status_source)
        self._show_status()

    # -- actions -------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#alerts", DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        try:
            self.filter = parse_filter(event.value)
        except ValueError as err:
            self.notify(str(err), severity="error")
            return
        self._redraw()
        self.action_focus_table()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        alert_id = event.row_key.value
        if event.data_table.id == "alerts" and alert_id is not None and alert_id in self.alerts:
            self.push_screen(AlertScreen(self.alerts[alert_id]))

    async def dispose(self, alert_id: str, verdict: str, note: str | None) -> None:
        """Write a verdict (the alert is one read off the alerts topic, so it was published);
        it shows once the worker's input topic gives it back."""
        try:
            record = disposition(alert_id, verdict, note, self.decided_by)
            await asyncio.to_thread(send_disposition, self.settings, record)
        except Exception as err:  # shown to the person, who can try again
            self.notify(f"verdict not written: {err}", severity="error")
            return
        self.notify(f"{verdict}: written to {self.settings.topic('alert-dispositions')}")
