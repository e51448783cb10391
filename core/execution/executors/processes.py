"""The process executor: trials in N worker processes on this machine (the default).

Each worker has its own task queue and result pipe (`WorkerPool`); a worker that dies, even
half-way through a message, only closes its own pipe, and its trial ends `failed` with the
exit code. The cores are divided among the workers, and each may run under a memory cap.
"""

from __future__ import annotations

from tunebook.core.execution.executors.base import Event, Executor, Lost, event_of
from tunebook.core.execution.pool import Worker, WorkerPool
from tunebook.core.execution.trial_task import TrialTask


class ProcessExecutor(Executor):
    """`workers` processes; the pool starts them at construction (the first pool of a process
    also starts the server they fork from, which imports torch)."""

    def __init__(self, workers: int = 1, memory_limit_mb: int | None = None) -> None:
        self.pool = WorkerPool(workers, memory_limit_mb)
        self.threads = self.pool.threads

    def free_slots(self) -> int:
        """Idle workers."""
        return len(self.pool.idle())

    def submit(self, task: TrialTask) -> None:
        """Hand the task to the first idle worker."""
        self.pool.submit(self.pool.idle()[0], task)

    def events(self, timeout: float) -> list[Event]:
        """The workers' messages; a closed pipe, or a worker dead for `DEATH_GRACE` s whose
        pipe a child of its own still holds open, is its trial `Lost`."""
        out: list[Event] = []
        for worker, message in self.pool.messages(timeout):
            if message is None:  # its pipe closed: the process is gone
                out += self._died(worker)
                continue
            event = event_of(message)
            if message[0] == "outcome":
                worker.task_id = None
            out.append(event)
        for worker in self.pool.dead_without_eof():
            out += self._died(worker)
        return out

    def _died(self, worker: Worker) -> list[Event]:
        """Replace a dead worker; its trial, if it had one, is lost with the exit code."""
        trial_id = worker.task_id
        code = self.pool.kill(worker)
        if trial_id is None:
            return []
        killed = ", killed: possibly out of memory" if code == -9 else ""
        return [Lost(trial_id, f"the worker process died (exit code {code}{killed})")]

    def request_stop(self) -> None:
        """Every worker's trial stops at its next step (the pool's shared stop event)."""
        self.pool.stop.set()

    def cancel(self, trial_id: int) -> None:
        """SIGKILL the trial's worker (a fresh one takes its place unless stopping)."""
        for worker, task_id in self.pool.busy():
            if task_id == trial_id:
                self.pool.kill(worker)

    def close(self) -> None:
        """Ask every worker to exit; terminate stragglers."""
        self.pool.close()
