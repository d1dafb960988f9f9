"""The worker runtime: the Faust app and its stages (ingest, keyed, verdicts), the registry view,
the web port (health, metrics, the pre-check), and the supervisor of N workers. Imports neither
the simulator nor the backtest."""
