"""`make bench`: figures for replay, ingest and query latency on this machine (not pass/fail)."""
