"""The history lake at run time: its storage (a folder or any fsspec URL), the archiver that
writes it from Kafka, and SQL over it with DuckDB. Names and rows: `app.logic.lake`."""
