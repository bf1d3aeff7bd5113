"""The worker side: a planned run, through the queue, to its stored outcome.

A run's life, module by module (each arrow an import that points down; nothing imports back):

- ``planner``: inserts ``job_runs`` rows for a short horizon ahead (unique on job and time,
  so racing planners insert each run once) and puts the new ones in the ``outbox``.
- ``outbox``: runs to hand to the queue once the transaction that made them commits (never
  before: a worker could find no row; never after a rollback). Imports nothing of the engine.
- ``queue``: the Huey object, the one task, ``enqueue_runs``, and the after-commit listener that
  empties the outbox into the queue. A failure there is logged and leaves the runs waiting: the
  committed change stands, and a worker re-enqueues every waiting run when it starts.
- ``execution``: the task's body: start the run if its job still wants it, measure every
  destination at once within the run's timeout, retry a collector error.
- ``storage``: the outcome in one transaction: run state, measurements, samples, event, and
  the counters of ``/metrics`` (``totals``: added to, never pruned).
- ``recovery``: runs whose worker died end ``abandoned``; ``identity`` names workers.
- ``worker``: Huey's consumer tuned for second-resolution jobs, plus the planner thread and
  the maintenance thread, which runs:
- ``rollups``: the rollup pass, following the event log (5-minute, 1-hour, 1-day tiers);
- ``retention``: pruning what is past its time, in batches; ``partitions``: PostgreSQL's time
  partitions of samples and the 5-minute tier, created ahead and dropped whole.
"""
