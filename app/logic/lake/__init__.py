"""The history lake, as pure logic: where its files go and what they are named
(`layout`), how a Kafka record is kept unchanged in the raw zone (`raw`), and how raw records
become the enriched zone's rows (`flatten`)."""
