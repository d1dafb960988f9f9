"""The stream layer: ingest, the worker, the replay, the simulator."""

import compiled

compiled.install()  # before any module it may serve is imported
