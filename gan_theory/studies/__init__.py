"""What each experiment computes, as pure functions of its config returning arrays.

One module per experiment of ``experiments/`` that is not a training sweep; the
experiment only writes what these return.
"""
