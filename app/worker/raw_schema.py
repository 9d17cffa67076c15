"""Records handed to the agents as the bytes Kafka holds, without faust's codec registry.

Every topic of the app is raw (`app.topics`): our own validation reads the bytes. faust still
sends each record's key and value through its serializer registry, which finds the `raw` codec
and gives the same bytes back; with one probe per record that lookup, done twice a record, was
a tenth of the worker's main thread. This schema builds the event from the bytes directly. It
is faust's documented extension point for decoding (`faust.Schema`); sending is unchanged.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.serializers.schemas import DecodeFunction, OnKeyDecodeErrorFun, OnValueDecodeErrorFun
from faust.types import AppT, EventT, Message

RAW = "raw"


class RawSchema(faust.Schema[bytes, bytes]):
    """Keys and values are `bytes` (or None), exactly as the record holds them."""

    def __init__(self) -> None:
        super().__init__(key_serializer=RAW, value_serializer=RAW)

    def compile(
        self,
        app: AppT,
        *,
        on_key_decode_error: OnKeyDecodeErrorFun | None = None,
        on_value_decode_error: OnValueDecodeErrorFun | None = None,
        default_propagate: bool = False,
    ) -> DecodeFunction:
        """The decoder faust calls for every record: nothing can fail to decode, so the error
        callbacks are never needed."""
        event_type: Any = app.conf.Event

        async def decode(message: Message, *, propagate: bool = default_propagate) -> EventT[bytes]:
            return event_type(app, message.key, message.value, message.headers, message)  # type: ignore[no-any-return]

        return decode
