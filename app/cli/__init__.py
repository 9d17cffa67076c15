"""The `probewatch` command: settings checked first, then faust's worker or an admin command."""
