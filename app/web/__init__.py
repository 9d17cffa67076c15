"""HTTP views served by every worker; queries are routed to the worker owning the key."""
