"""The worker server: the module multiprocessing's forkserver imports before it forks any of
the runner's workers (`pool.worker_context`), so that torch, torch._dynamo and the training
loop are imported once, not once per worker (about two seconds of CPU each).

The server ends when its runner does. Started by `pool.start_worker_server`, which marks its
environment, it then skips the interpreter's teardown (half a second with torch loaded),
during which it would hold the runner's stdout and stderr open: a caller reading the
runner's output through a pipe would wait that long for its end.
"""

from __future__ import annotations

import atexit
import os

from tunebook.core.execution.pool import SERVER_MARK
from tunebook.core.execution.worker import exit_now, warm_up

warm_up()
if os.environ.pop(SERVER_MARK, None) == "1":
    atexit.register(exit_now)
