"""Route Sunlight's alerts: red to the discipline inspectors, yellow to the sector regulator.

Run it beside a deployment (same KAFKA_BOOTSTRAP_SERVERS and SUNLIGHT_TOPIC_PREFIX); Ctrl-C
stops it. Here the two places are JSONL inboxes in the current folder; in production they
would be a case system's API, a queue, a mailbox.
"""

import json
from pathlib import Path

from alert_consumer import Alert, AlertConsumer, AlertFilter, SeenIds

INBOXES = {"red": Path("inspectors.jsonl"), "yellow": Path("regulator.jsonl")}


def deliver(alert: Alert) -> None:
    # If this raises (the inbox is unavailable), the alert is not committed: the next run
    # of the router gets it again.
    with INBOXES[alert.severity].open("a") as inbox:
        inbox.write(json.dumps({"id": alert.id, "subject": alert.subject,
                                "summary": alert.summary}) + "\n")


if __name__ == "__main__":
    consumer = AlertConsumer.from_env(
        group_id="case-router",
        alert_filter=AlertFilter(regions={"330784", "330110"}),  # the two counties we serve
        seen=SeenIds(path=Path("case-router.seen")),  # handled ids survive a restart
    )
    with consumer:
        consumer.stop_on_signals()  # Ctrl-C: finish the alert in hand, commit, leave the group
        consumer.run(deliver)
