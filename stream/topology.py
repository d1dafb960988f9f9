"""The topology as a value: what a worker runs, built from the detectors and the settings.

Pure (no Kafka): the kinds (one keyed stage each: a repartitioned topic, a state changelog, a
Runner), the feeds each kind reads and the detectors it runs per feed, the feeds whose event
time is its clock, the consumer groups, and the name of every topic Sunlight uses. Every
internal topic name comes from :func:`internal_topic`; the worker builds its stages from this
object and ``sunlight topology`` prints it.

>>> from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
>>> topology = Topology.build([IneligibleSubsidyPayee()], Settings(topic_prefix="t-"))
>>> topology.kinds["payee"].topic, topology.kinds["payee"].changelog
('t-sunlight-keyed-payee', 't-sunlight-state-payee-changelog')
>>> topology.routes("payments")
['t-sunlight-keyed-payee']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector
from detectors.runner import by_kind, clock_feeds
from stream.config import FEEDBACK_FEEDS, INPUT_TOPICS, OUTPUT_TOPICS, Settings

#: Feeds that carry alert ids: the verdicts stage keeps one entry per alert id.
VERDICT_FEEDS = ("alerts", "alert-dispositions")
#: The kind name of the verdicts stage's repartitioned topic (``<app>-keyed-alert``).
VERDICT_KIND = "alert"
#: The Faust table that holds one verdict entry per alert id (its changelog is Faust's).
VERDICTS_TABLE = "verdicts"


def internal_topic(settings: Settings, role: str, kind: str = "") -> str:
    """The full name of one of Sunlight's own topics; the one place these names are made.

    ``keyed``: a kind's repartitioned input (``<app>-keyed-<kind>``); ``state``: a kind's
    state changelog (``<app>-state-<kind>-changelog``); ``table``: the changelog Faust keeps
    for the table named ``kind`` (``<app>-<table>-changelog``). Every name gets the topic
    prefix.

    >>> internal_topic(Settings(), "keyed", "payee")
    'sunlight-keyed-payee'
    >>> internal_topic(Settings(topic_prefix="p-", app_id="a"), "table", "verdicts")
    'p-a-verdicts-changelog'
    """
    app = settings.app_id
    names = {"keyed": f"{app}-keyed-{kind}", "state": f"{app}-state-{kind}-changelog",
             "table": f"{app}-{kind}-changelog"}
    if role not in names or not kind:
        raise ValueError(f"no internal topic {role!r} of {kind!r}: roles are {sorted(names)}")
    return settings.topic(names[role])


def consumer_group(settings: Settings, stage: str = "") -> str:
    """A stage's consumer group: the Faust app's own (``stage`` empty: the verdicts agent),
    ``ingest`` or ``keyed``."""
    return f"{settings.group_id}-{stage}" if stage else settings.group_id


@dataclass(frozen=True)
class Kind:
    """One keyed stage: events of its feeds, keyed by what its detectors need."""

    name: str
    #: Input feed -> the detectors run on it, in the detectors file's order.
    feeds: dict[str, list[Detector]]
    #: The input feeds whose event time is this kind's clock (its watermark).
    clock: tuple[str, ...]
    #: The repartitioned topic it reads, and its state's changelog.
    topic: str
    changelog: str

    @property
    def stage(self) -> str:
        """Its name in metrics (``stage`` label) and logs."""
        return f"keyed-{self.name}"

    def detectors(self) -> list[str]:
        """Every detector of this kind, once, in order."""
        return list(dict.fromkeys(d.name for ds in self.feeds.values() for d in ds))


@dataclass(frozen=True)
class Topology:
    """Everything one worker runs, and every topic and group name it uses."""

    app_id: str
    topic_prefix: str
    partitions: int
    #: Logical feed -> topic name, for the contract's input and output topics.
    inputs: dict[str, str]
    outputs: dict[str, str]
    kinds: dict[str, Kind]
    #: The verdicts stage: its repartitioned topic and the changelog of its table.
    verdict_topic: str
    verdicts_changelog: str
    #: Stage -> consumer group.
    groups: dict[str, str]

    @classmethod
    def build(cls, detectors: Iterable[Detector], settings: Settings) -> Topology:
        grouped = by_kind(detectors)
        clocks = clock_feeds(grouped)
        kinds = {
            kind: Kind(kind, by_feed,
                       tuple(clocks[kind]), internal_topic(settings, "keyed", kind),
                       internal_topic(settings, "state", kind))
            for kind, by_feed in grouped.items()
        }
        return cls(
            app_id=settings.app_id, topic_prefix=settings.topic_prefix,
            partitions=settings.partitions,
            inputs={feed: settings.topic(feed) for feed in INPUT_TOPICS},
            outputs={feed: settings.topic(feed) for feed in OUTPUT_TOPICS},
            kinds=kinds,
            verdict_topic=internal_topic(settings, "keyed", VERDICT_KIND),
            verdicts_changelog=internal_topic(settings, "table", VERDICTS_TABLE),
            groups={"ingest": consumer_group(settings, "ingest"),
                    "keyed": consumer_group(settings, "keyed"),
                    "verdicts": consumer_group(settings)},
        )

    @property
    def ingest_feeds(self) -> tuple[str, ...]:
        """The feeds the ingest stage reads: every input, and the outputs read back."""
        return (*self.inputs, *FEEDBACK_FEEDS)

    def topic(self, feed: str) -> str:
        """The topic name of an input or output feed."""
        return self.inputs.get(feed) or self.outputs[feed]

    def ticking(self, feed: str) -> bool:
        """Whether the feed's event time is some kind's clock (its progress is ticked)."""
        return any(feed in kind.clock for kind in self.kinds.values())

    def routes(self, feed: str) -> list[str]:
        """The internal topics an event of ``feed`` is repartitioned to."""
        topics = [kind.topic for kind in self.kinds.values() if feed in kind.feeds]
        if feed in VERDICT_FEEDS:
            topics.append(self.verdict_topic)
        return topics

    def internal_topics(self) -> dict[str, bool]:
        """The worker's own topics (full name -> compacted?)."""
        names = {kind.topic: False for kind in self.kinds.values()}
        names.update({kind.changelog: True for kind in self.kinds.values()})
        names[self.verdict_topic] = False
        names[self.verdicts_changelog] = True
        return names

    def as_dict(self) -> dict[str, Any]:
        """The topology as plain data (``sunlight topology --json``)."""
        return {
            "app_id": self.app_id, "topic_prefix": self.topic_prefix,
            "partitions": self.partitions, "groups": self.groups,
            "inputs": self.inputs, "outputs": self.outputs,
            "ingest": {feed: self.routes(feed) for feed in self.ingest_feeds},
            "kinds": {
                name: {"topic": kind.topic, "changelog": kind.changelog, "stage": kind.stage,
                       "clock": list(kind.clock),
                       "feeds": {feed: [d.name for d in ds] for feed, ds in kind.feeds.items()}}
                for name, kind in self.kinds.items()
            },
            "verdicts": {"topic": self.verdict_topic, "changelog": self.verdicts_changelog,
                         "feeds": list(VERDICT_FEEDS)},
            "internal_topics": self.internal_topics(),
        }

    def text(self) -> str:
        """The topology for people: stages, the topics between them, the detectors."""
        lines = [f"app id {self.app_id}, topic prefix {self.topic_prefix or '(none)'}, "
                 f"{self.partitions} partitions per internal topic", "",
                 f"ingest stage (group {self.groups['ingest']}): decode, validate (rejects to "
                 f"{self.outputs['dead-letters']}), repartition to the kinds that read the feed"]
        for feed in self.ingest_feeds:
            to = [name for name, kind in self.kinds.items() if feed in kind.feeds]
            to += ["verdicts"] if feed in VERDICT_FEEDS else []
            lines.append(f"  {self.topic(feed):<20} -> {', '.join(to) or '(validated only)'}")
        lines += ["", f"keyed stage (group {self.groups['keyed']}): one Runner per kind, "
                      f"alerts to {self.outputs['alerts']}"]
        for kind in self.kinds.values():
            lines += [f"  {kind.name} (stage {kind.stage}, event time of "
                      f"{', '.join(kind.clock)})",
                      f"    reads {kind.topic}, state {kind.changelog}"]
            for feed, detectors in kind.feeds.items():
                lines.append(f"    {feed + ':':<15} {', '.join(d.name for d in detectors)}")
        lines += ["", f"verdicts (Faust agent, group {self.groups['verdicts']}): reads "
                      f"{self.verdict_topic}, table changelog {self.verdicts_changelog}"]
        return "\n".join(lines)
