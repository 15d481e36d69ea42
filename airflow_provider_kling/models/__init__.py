"""Kling's requests, tasks and model tables as typed data; no Airflow and no HTTP here.

Imports nothing: a hook or operator module names :mod:`.task` or :mod:`.api_style` at DAG-parse
time without loading every request model (pydantic). Import each name from its submodule.
"""
