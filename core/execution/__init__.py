"""Running trials: the scheduler, the worker pool, the runner (the file's single writer).

`Runner` is the entry point; `tunebook.core.api.run` and `tunebook run` drive it.
"""
