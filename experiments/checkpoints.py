"""Engine snapshots on disk with orbax, checked when they are read back."""

import hashlib
import logging as python_logging
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from gan_theory.engine import Snapshot

__all__ = ["DIRECTORY", "SweepCheckpoints"]

# Where in its workdir an experiment keeps its snapshots.
DIRECTORY = "checkpoints"


class _OrbaxWarningsOnly(python_logging.Filter):
  """Orbax logs some 40 INFO lines a save through absl; they would bury the sweep's own."""

  def filter(self, record: python_logging.LogRecord) -> bool:
    return record.levelno >= python_logging.WARNING or "/orbax/" not in record.pathname


_ORBAX_FILTER = _OrbaxWarningsOnly()


def _leaves(snapshot: Snapshot) -> tuple[list[str], list[np.ndarray]]:
  paths_and_leaves = jax.tree_util.tree_flatten_with_path(snapshot[1:])[0]
  return [jax.tree_util.keystr(path) for path, _ in paths_and_leaves], [
      np.asarray(leaf) for _, leaf in paths_and_leaves
  ]


def _by_index(leaves: list[np.ndarray]) -> dict[str, np.ndarray]:
  # Orbax names each array by its key; indices keep the names plain.
  return {f"{i:05d}": leaf for i, leaf in enumerate(leaves)}


def _describe(paths: list[str], leaves: list[np.ndarray]) -> list[list]:
  return [[path, str(leaf.dtype), list(leaf.shape)] for path, leaf in zip(paths, leaves)]


def _digest(leaves: list[np.ndarray]) -> str:
  digest = hashlib.sha256()
  for leaf in leaves:
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return digest.hexdigest()


def _problem(record: dict, expected: list[list], leaves: list[np.ndarray]) -> str | None:
  """What is wrong with restored ``leaves``, or None if they are intact."""
  paths = [path for path, _, _ in expected]
  if record["leaves"] != expected or _describe(paths, leaves) != expected:
    return "its arrays do not have this sweep's structure"
  if record["sha256"] != _digest(leaves):
    return "its arrays do not match their digest"
  return None


class SweepCheckpoints:
  """A :class:`gan_theory.engine.Checkpointer` in a directory, one orbax step per snapshot.

  Each checkpoint holds the snapshot's arrays and a JSON record of their paths, dtypes,
  shapes and SHA-256 digest. Orbax writes a checkpoint to a temporary directory and
  renames it into place, so a process killed while saving leaves the previous ones
  intact. A checkpoint that fails to read back, or whose arrays do not match their
  record or this sweep, is logged, deleted and passed over for the one before it.

  Create it on every process, as a context manager: only process 0's touches the files.
  """

  def __init__(self, directory: str | Path, keep: int = 2):
    """Opens (or creates) the checkpoints in ``directory``.

    Args:
      directory: where the checkpoints live.
      keep: how many of the latest checkpoints to keep; 2 leaves one to fall back on.
    """
    self._manager = None
    if jax.process_index() != 0:
      return  # run_sweep calls process 0's alone.
    logging.get_absl_logger().addFilter(_ORBAX_FILTER)  # Adding it again does nothing.
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)  # Orbax will not, for process 0 alone.
    options = ocp.CheckpointManagerOptions(
        create=False,
        max_to_keep=keep,
        enable_async_checkpointing=False,  # A snapshot is already a host copy.
        cleanup_tmp_directories=True,  # Half-written saves of a killed process.
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            primary_host=0, active_processes={0}
        ),
    )
    self._manager = ocp.CheckpointManager(directory, options=options)

  def __enter__(self) -> "SweepCheckpoints":
    return self

  def __exit__(self, *exc_info) -> None:
    if self._manager is not None:
      self._manager.close()

  def save(self, snapshot: Snapshot) -> None:
    """Saves ``snapshot`` as step ``snapshot.steps_done``."""
    paths, leaves = _leaves(snapshot)
    record = {"leaves": _describe(paths, leaves), "sha256": _digest(leaves)}
    self._manager.save(
        snapshot.steps_done,
        args=ocp.args.Composite(
            arrays=ocp.args.StandardSave(_by_index(leaves)),
            record=ocp.args.JsonSave(record),
        ),
    )

  def restore(self, template: Snapshot) -> Snapshot | None:
    """The latest intact snapshot shaped like ``template``, or None if there is none."""
    paths, template_leaves = _leaves(template)
    treedef = jax.tree.structure(template[1:])
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(_by_index(template_leaves)),
                record=ocp.args.JsonRestore(),
            ),
        )
        leaves = [np.asarray(restored.arrays[name]) for name in _by_index(template_leaves)]
        problem = _problem(restored.record, _describe(paths, template_leaves), leaves)
      # A damaged checkpoint fails in many ways (orbax, tensorstore, JSON); any of them
      # means the same: fall back to the one before.
      except Exception as error:  # pylint: disable=broad-except
        message = str(error).splitlines()[0] if str(error) else ""
        problem = f"it cannot be read ({type(error).__name__}: {message[:200]})"
      if problem is None:
        logging.info("resuming from the checkpoint at step %d", step)
        return Snapshot(step, *jax.tree.unflatten(treedef, leaves))
      logging.warning(
          "checkpoint at step %d in %s is damaged: %s; deleting it and trying the one before",
          step, self._manager.directory, problem,
      )
      self._manager.delete(step)
    return None
