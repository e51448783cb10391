"""Reading results the playbook's way (PB-11 … PB-19, PB-29): computations on finished
studies that return plain data, so `tunebook review` and the app's Review screen show the
same numbers. `study` loads what a study holds; the checklist, plots and re-ranking build
on it; drawing lives in the command line and the app.
"""
