"""Core engine: workloads, training, search, design, execution. Imports no UI code."""
