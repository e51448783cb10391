"""Widgets of the app: each self-contained, fed plain data from `core`/`sessions`."""
