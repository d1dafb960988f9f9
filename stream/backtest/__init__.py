"""The backtest: recorded feeds through the live Runner (``replay``, scored against labels), the
arrival-order check (``arrival``), and ``sunlight score`` on a CSV series (``score``, ``plot``)."""
