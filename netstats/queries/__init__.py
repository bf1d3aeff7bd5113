"""The read side: every question a page, the API, a report or ``/metrics`` asks of the data.

Each function answers one question in one query (or a fixed number), whatever the number of
rows, jobs or destinations, so that a page never issues a query per row. Pages and the API
call the same functions; nothing recomputes a statistic its own way.

- ``latest``: the newest measurements (per destination, per job of a destination), the
  latest runs, destinations in trouble.
- ``events``: the event log by id, for the live streams.
- ``series``: series and their data over a range (``find_series``, ``series_data``), from
  raw samples and rollup tiers stitched together.
- ``summary``: a job over a range, per destination (``summarize_range``): the one summary
  the analytics page, the API and reports share.
- ``totals``: counters since counting began (rounds by status, probes, route changes, runs
  by final state) and the engine's health (runs due, lateness): what ``/metrics`` reads.
"""
