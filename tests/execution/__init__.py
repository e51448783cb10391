"""Tests of the execution engine: real runner processes, real session files, real training."""
