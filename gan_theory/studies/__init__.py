"""What each experiment computes, as pure functions of its config returning arrays.

One module per experiment of ``experiments/`` that is not a training sweep; the
experiment only writes what these return.
"""


def no_progress(message: str) -> None:
  """The studies' default progress callback: says nothing of ``message``."""
  del message
