"""The worker's Prometheus metrics, on a registry of its own (one per app, so tests can run
several apps in one process). Label values are bounded: topics, reason codes, detectors,
severities; never a person or record id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600,
                   6 * 3600, 86400, 7 * 86400, 30 * 86400)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records_in = Counter(
            "sunlight_records_in", "Input records read, per topic", ["topic"], registry=r)
        self.records_routed = Counter(
            "sunlight_records_routed",
            "Events the ingest stage routed to a keyed partition, per path: in_process (handed "
            "to this worker's keyed stage) or topic (the repartition topic)", ["path"],
            registry=r)
        self.records_rejected = Counter(
            "sunlight_records_rejected",
            "Input records sent to dead-letters, per topic and reason code",
            ["topic", "reason"], registry=r)
        self.dead_letters_lost = Counter(
            "sunlight_dead_letters_lost",
            "Dead letters Kafka refused even without the original bytes (logged, committed)",
            registry=r)
        self.duplicates_dropped = Counter(
            "sunlight_duplicates_dropped",
            "Input records whose event_id was already processed, per feed and stage",
            ["feed", "stage"], registry=r)
        self.events_processed = Counter(
            "sunlight_events_processed",
            "Events run through the detectors, per feed and stage", ["feed", "stage"], registry=r)
        self.alerts = Counter(
            "sunlight_alerts", "Alerts published, per detector and severity",
            ["detector", "severity", "action"], registry=r)
        self.detector_errors = Counter(
            "sunlight_detector_errors",
            "Events a detector raised on (the event goes to dead-letters)", ["detector"],
            registry=r)
        self.links_truncated = Counter(
            "sunlight_links_truncated",
            "Alerts whose registry links were cut at the detector's max_links (see the "
            "evidence's registry_links_truncated)", ["detector"], registry=r)
        self.late_records = Counter(
            "sunlight_late_records",
            "Records later than a detector's allowed lateness (window already judged)",
            ["detector"], registry=r)
        self.event_to_alert = Histogram(
            "sunlight_event_to_alert_seconds",
            "From the event's event_time to its alert being published", ["detector"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.ingest_to_alert = Histogram(
            "sunlight_ingest_to_alert_seconds",
            "From the worker reading the input record to its alert being published",
            ["detector"], buckets=LATENCY_BUCKETS, registry=r)
        self.consumer_lag = Gauge(
            "sunlight_consumer_lag_messages",
            "Messages not yet read on this worker's assigned partitions, per topic", ["topic"],
            registry=r)
        self.partitions_held = Gauge(
            "sunlight_ingest_partitions_held",
            "Input partitions the ingest stage holds back (paused) while draining a backlog, "
            "because they are read further ahead in event time than SUNLIGHT_READ_AHEAD_S "
            "past the slowest one", registry=r)
        self.partition_holds = Counter(
            "sunlight_ingest_partition_holds",
            "Times the ingest stage held back an input partition read too far ahead in event "
            "time (see sunlight_ingest_partitions_held)", registry=r)
        self.last_event_time = Gauge(
            "sunlight_last_record_timestamp_seconds",
            "Wall-clock time a record of this topic was last read (feed silence)", ["topic"],
            registry=r)
        self.registry_records = Gauge(
            "sunlight_registry_records", "People and companies in this worker's registry view",
            ["record_type"], registry=r)
        self.precheck_requests = Counter(
            "sunlight_precheck_requests",
            "Payment pre-check requests, by decision (allow, hold, bad_request, unauthorized, "
            "unavailable)", ["decision"], registry=r)
        self.precheck_seconds = Histogram(
            "sunlight_precheck_seconds", "Time to answer a payment pre-check",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r)
        self.http_responses = Counter(
            "sunlight_http_responses",
            "Answers on the web port, per route (other: any unknown path) and status",
            ["route", "status"], registry=r)
        self.http_connections_closed = Counter(
            "sunlight_http_connections_closed",
            "Idle web connections closed to make room at the connection cap", registry=r)
        self.dispositions = Counter(
            "sunlight_dispositions",
            "Verification results applied to alerts, per detector and verdict",
            ["detector", "verdict"], registry=r)
        self.alert_verdicts = Gauge(
            "sunlight_alert_verdicts",
            "Alerts on this worker's partitions by verdict (confirmed, dismissed, open)",
            ["detector", "region", "verdict"], registry=r)
        self.precision = Gauge(
            "sunlight_detector_precision",
            "Confirmed / decided alerts of a detector (this worker's partitions; across "
            "workers use sunlight_alert_verdicts)", ["detector"], registry=r)
        self.registry_deletions = Counter(
            "sunlight_registry_deletions",
            "Registry tombstones (a key, no value) applied by this worker's registry view",
            registry=r)
        self.registry_ready = Gauge(
            "sunlight_registry_ready",
            "1 once the registry view has caught up with the topic's end at start", registry=r)
        self.keyed_ready = Gauge(
            "sunlight_keyed_ready",
            "1 while the keyed stage has its partitions assigned and their state restored",
            registry=r)
        self.stage_rebalances = Counter(
            "sunlight_stage_rebalances_total",
            "Partition assignments a stage's consumer group made on this worker", ["stage"],
            registry=r)
        self.batch_seconds = Histogram(
            "sunlight_batch_seconds",
            "Time to process one batch, from read to confirmed (alerts, state) and committed",
            ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r)
        self.watermark = Gauge(
            "sunlight_event_time_watermark_seconds",
            "Event time (epoch seconds) up to which a stage's windows are judged: the lowest "
            "watermark of this worker's partitions of it (per key kind)", ["stage"], registry=r)
        self.state_keys = Gauge(
            "sunlight_state_keys", "State entries held by this worker, per key kind: a key's "
            "(detector state and recent event ids), the chunks of a busy key's ids, a "
            "partition's watermark", ["kind"], registry=r)
        self.state_restore_seconds = Histogram(
            "sunlight_state_restore_seconds",
            "Time to restore assigned partitions' state from their changelogs", registry=r)
