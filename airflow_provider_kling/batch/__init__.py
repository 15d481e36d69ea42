"""Many requests of one kind in one Airflow task, at the account's slot budget: :mod:`.items`
(read, validated, identified), :mod:`.admission` (no I/O), :mod:`.runner` (the HTTP calls),
:mod:`.manifest` (results, manifest, contact sheet).
"""
