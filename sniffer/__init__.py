"""Capture, parse and produce Wi-Fi probe requests; runs on a sensor host without `app`.

capture (scapy: files and monitor-mode interfaces) -> parse (lean, to ProbeEvent) -> pipeline
(counting, pacing) -> producer (Kafka); cli ties them together as `probewatch-sniffer`.
"""
