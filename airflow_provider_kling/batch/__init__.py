"""Many image requests in one Airflow task, at the account's slot budget.

- :mod:`.items`: the batch's requests read from a list, CSV or JSONL, validated, each with its
  own external task id (no Airflow, no HTTP);
- :mod:`.admission`: which item to create or poll next, the slot budget and what an answer means
  for an item (no I/O: shared by the worker and the trigger);
- :mod:`.runner`: the loop that does the HTTP calls the admission asks for (one hook, one client);
- :mod:`.manifest`: images to storage, the manifest and the contact sheet.
"""
