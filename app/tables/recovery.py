"""faust's table recovery, with the flow of records stopped while it seeks the stream partitions,
and standby copies applied within a fraction of a second.

Once the tables are read back (or there was nothing to read), faust's `on_recovery_completed`
resumes the stream partitions, seeks them to their committed offsets and then resumes the flow,
which empties every stream buffer. But the flow is already running then (faust resumed it to
read the changelogs, or because there was nothing to read): a record fetched from the sought
offset can be put into a buffer after the seek and before the emptying. faust counts it as read
and it is gone. Seen as one record at a partition's committed offset that never reached its
fold, right after "Seek stream partitions to committed offsets", in 3 of 3 runs of the scale
tests (the fold read it back, `app.worker.offset_guard`). With the flow stopped first, what
reaches a buffer before the seek is emptied and read again from the seek, and nothing after.

After recovery, faust applies a standby's changelog records to its store only once a table has
gathered 1,000 of them (`standby_buffer_size`): the last few hundred changes of a quiet table
could wait there for ever, and a copy would never have applied all it fetched. A read may be
answered from a standby copy that has (`app.web.replicas`), so what waits is applied every
`STANDBY_APPLY_EVERY_S`, in one batch per table as faust would.
"""

from __future__ import annotations

from faust.tables.recovery import Recovery
from mode import Service

#: How often changelog records buffered for standby copies are applied, at most.
STANDBY_APPLY_EVERY_S = 0.1


class SeekingRecovery(Recovery):
    """Stops the flow before `on_recovery_completed` seeks; faust's method resumes it. Applies
    what its standby copies buffered every `STANDBY_APPLY_EVERY_S`."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)

    @Service.timer(STANDBY_APPLY_EVERY_S)
    async def _apply_standby_buffers(self) -> None:
        self.apply_buffered()

    def apply_buffered(self) -> None:
        """Apply every buffered changelog record, once recovery is over (while it runs, faust
        applies them itself, in batches of `recovery_buffer_size`)."""
        if self.in_recovery or not self.completed.is_set():
            return
        if any(self.buffers.values()):
            self.flush_buffers()
