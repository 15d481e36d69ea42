"""One Kling task's life, for every kind and every driver: written once, free of Airflow.

:mod:`.policy` (outcomes, the failure policy), :mod:`.poll` (the one wait, its step and error
budget), :mod:`.results` (the one store path and manifest writer), :mod:`.reconcile` (what exists
on Kling for a request, and what to do about it) and :mod:`.request` (the worker's reconcile and
create). Sans-I/O where the worker and the triggerer both drive it.
"""
