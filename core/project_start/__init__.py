"""Starting a project (PB-1 … PB-4, PB-19, PB-21, PB-30, PB-31): decisions made once, each on
a measurement.

The modules follow the playbook's order: `model` (the architecture family), `optimizer`
(the seven optimizers, a suggestion by task), `batch_size` (throughput up to the memory
ceiling), `initial_config` (constant rate, better than chance), `training_length` (the
learning-rate sweep that proposes `max_train_steps`) and `stability` (2× the best rate,
warmup, clipping). `project` is what the decisions so far add up to, `decisions` records one
and marks later ones stale, `probe` and `runner` measure, `units` is what a worker runs.
"""
