"""The simulator: a seeded world (``world``), the scenarios that inject each detector's cases and
near misses (``scenarios``), and the feed they make (``simulate``)."""
