"""Pure functions of probewatch: no App, table, topic or Kafka in here, so they test with values."""
