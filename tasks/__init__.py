"""RQ job functions: thin, take ids, run in the worker's app context, commit once."""
