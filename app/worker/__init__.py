"""Services that run beside faust in every worker: counters, dead letters, the mirrored lists,
live fan-out, the stalled-partition watchdog, metrics, and the worker's own lifecycle."""
