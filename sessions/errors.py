"""The exceptions every layer raises, so the CLI can map them to exit codes.

`BadInput` means the user gave us something wrong (exit code 2); its message is one
sentence naming the file, key or value at fault. Any other `TunebookError` is a failure
while running (exit code 1).
"""


class TunebookError(Exception):
    """A failure tunebook recognises and can explain in one sentence."""


class BadInput(TunebookError):
    """The user's input is wrong: a path, a file, a spec key, a value. Exit code 2."""


class SessionFileError(BadInput):
    """The session file cannot be used: missing, not SQLite, corrupt, or too new."""


class ReadOnlySession(BadInput):
    """A command that must write was given a session opened read-only."""
