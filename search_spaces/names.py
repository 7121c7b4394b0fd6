"""The rules for text a person gives a job: names (jobs, datasets, teams) and server paths.

They live apart from the models that use them so that every model (``JobSpec``'s name, the
training settings' weights path, the API's forms) applies the same rule from one definition."""

from __future__ import annotations

# printable, no control characters (NUL, newlines, terminal escapes, DEL and the C1 controls):
# such characters in a name or a path rewrite a terminal or a log line, or cut a path short
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
NAME_MAX_LENGTH = 200
PATH_MAX_LENGTH = 4096  # PATH_MAX of Linux: a longer path is no file this server could open
