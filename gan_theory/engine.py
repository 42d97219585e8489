"""One driver for every experiment that trains: a :class:`Trainer` advanced period by period.

A trainer describes one run (init, a period of training steps, an evaluation); the
engine makes the two programs everything else is built from:

- :func:`make_train`: one run as one pure function of a key, ``train(key, leaves) ->
  (state, metrics)``, the evaluations stacked by ``lax.scan``: ``jit(vmap(train))`` is a
  sweep in one call.
- :func:`run`: the sweep as the host drives it, every run in one compiled program per
  period (:mod:`gan_theory.sharding`: the runs sharded over every device, vmapped in
  groups), with progress after each period and snapshots to resume from. Chunking into
  periods does not change the numbers: each period is the same program applied to the
  same state, and every draw of a run is a function of its key and step.

On several processes (``jax.distributed.initialize``), every process calls :func:`run`
with the same arguments and gets the whole result; only process 0 calls the
:class:`Checkpointer`, and broadcasts what it read.
"""

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from gan_theory import sharding

__all__ = [
    "COMPILING",
    "FINISHING",
    "TRAINING",
    "Checkpointer",
    "DoesNotFit",
    "Interrupted",
    "Outcome",
    "Progress",
    "Snapshot",
    "Trainer",
    "make_train",
    "run",
]


class Trainer(Protocol):
  """One run of a model family, in pieces the engine puts together.

  Attributes:
    num_periods: evaluation periods in a run.
    period_steps: training steps in a period.
  """

  num_periods: int
  period_steps: int

  def init(self, key: jax.Array, leaves: Any) -> Any:
    """The state of a run before training, from its typed key and its own leaves."""

  def train_period(self, state: Any) -> tuple[Any, Any]:
    """``period_steps`` training steps, then an evaluation: ``(state, metrics)``."""

  def evaluate(self, state: Any) -> Any:
    """The metrics of ``state``: a pytree of arrays, NaN once a run has diverged."""


def make_train(trainer: Trainer) -> Callable[[jax.Array, Any], tuple[Any, Any]]:
  """``train(key, leaves) -> (state, metrics)``: one whole run, pure and traceable.

  ``metrics`` leaves have a leading axis of ``num_periods + 1`` evaluations, at steps
  ``0, period_steps, ..., num_periods * period_steps``.
  """

  def train(key, leaves=None):
    state = trainer.init(key, leaves)
    initial = trainer.evaluate(state)
    state, periodic = jax.lax.scan(
        lambda s, _: trainer.train_period(s), state, length=trainer.num_periods
    )
    return state, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), initial, periodic)

  return train


class Snapshot(NamedTuple):
  """A sweep's progress, on the host: what a checkpoint holds.

  Attributes:
    steps_done: training steps every run has taken.
    state: every run's state as numpy arrays ``[runs, ...]``, typed keys as key data
      (``jax.random.key_data``), without padding runs.
    history: the metrics as numpy arrays ``[runs, num_periods + 1, ...]``: the
      evaluations so far, NaN for those still to come.
  """

  steps_done: int
  state: Any
  history: Any


class Checkpointer(Protocol):
  """Keeps a sweep's snapshots somewhere.

  Every process passes one to :func:`run` (or none does): gathering a snapshot takes
  all of them, but only process 0's checkpointer is called.
  """

  def save(self, snapshot: Snapshot) -> None:
    """Stores ``snapshot``."""

  def restore(self, template: Snapshot) -> Snapshot | None:
    """The latest intact snapshot with ``template``'s structure, or None if there is none."""


COMPILING = "compiling"
TRAINING = "training"
FINISHING = "finishing"


class Progress(NamedTuple):
  """Where a sweep stands, passed to the progress callback as each phase begins and after
  every period.

  Attributes:
    phase: :data:`COMPILING` (before compilation and restoring), :data:`TRAINING` (once
      compiled, at the first step to take, then after every period) or
      :data:`FINISHING` (training is over; ``finish`` begins).
    layout: where the runs go: devices, vmap groups, padding.
    steps_done: training steps every run has taken.
    num_steps: training steps of a whole run.
    num_runs: runs in the sweep.
    num_diverged: runs none of whose latest metrics is finite (a diverged run's are NaN).
    compile_seconds: time spent compiling (and restoring) before training.
    train_seconds: time spent training since the start or the resume.
    resumed_from_step: the step of the snapshot the sweep resumed from, 0 if none.
  """

  phase: str
  layout: sharding.Layout
  steps_done: int
  num_steps: int
  num_runs: int
  num_diverged: int
  compile_seconds: float
  train_seconds: float
  resumed_from_step: int


class Interrupted(KeyboardInterrupt):
  """Ctrl-C while :func:`run` trained: how far the runs got, and what a rerun resumes from.

  Attributes:
    steps_done: the steps every run had finished.
    saved_step: the step of the latest snapshot saved or restored, or None if there is none.
  """

  def __init__(self, steps_done: int, saved_step: int | None):
    super().__init__(steps_done, saved_step)
    self.steps_done = steps_done
    self.saved_step = saved_step


class DoesNotFit(MemoryError):
  """A sweep that needs more memory than there is, raised before it trains."""


class Outcome(NamedTuple):
  """What :func:`run` returns; numpy arrays with a leading run axis.

  Attributes:
    steps: ``[num_periods + 1]`` the training step of each evaluation.
    history: the metrics ``[runs, num_periods + 1, ...]``, NaN where not evaluated.
    steps_done: the steps every run took: all of them, unless every run diverged first.
    all_diverged: whether every run had diverged at the last evaluation (training stops
      at the evaluation that finds it).
    final_state: every run's final state, typed keys as key data.
    finished: ``finish`` of every run's final state, or None without one.
    compile_seconds: time spent compiling the training program (and restoring).
    train_seconds: time spent running it, after compilation.
    finish_seconds: time spent on ``finish``, its compilation included.
    resumed_from_step: the step of the snapshot the sweep resumed from, 0 if none.
  """

  steps: np.ndarray
  history: Any
  steps_done: int
  all_diverged: bool
  final_state: Any
  finished: Any
  compile_seconds: float
  train_seconds: float
  finish_seconds: float
  resumed_from_step: int


def _is_key(x) -> bool:
  return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _keys_as_data(tree):
  """``tree`` with its typed keys as key data: what hosts and checkpoints can hold."""
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _data_as_keys(tree, like):
  """Undoes :func:`_keys_as_data`; ``like`` (shapes or arrays) tells which leaves were keys."""
  return jax.tree.map(lambda x, t: jax.random.wrap_key_data(x) if _is_key(t) else x, tree, like)


def _record(history, column: int, metrics) -> None:
  """Writes one evaluation of every run into ``history``."""
  jax.tree.map(lambda recorded, new: recorded.__setitem__((slice(None), column), new),
               history, metrics)


def _num_diverged(metrics) -> int:
  """Runs none of whose metrics is finite: a diverged run's are all NaN."""
  finite = [np.any(np.isfinite(x).reshape(len(x), -1), axis=1) for x in jax.tree.leaves(metrics)]
  return int(np.sum(~np.any(finite, axis=0)))


def _nbytes(tree) -> int:
  """The bytes of ``tree``'s arrays or shapes."""
  return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def _readable_bytes(n: float) -> str:
  for unit in ("B", "kB", "MB", "GB"):
    if n < 1000:
      return f"{n:.3g} {unit}"
    n /= 1000
  return f"{n:.3g} TB"


def _memory_limit(device: jax.Device | None) -> tuple[int | None, str]:
  """The bytes there are, and whose: the host's (None: the host), else ``device``'s own, or
  None where its backend does not tell."""
  if device is None:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "the host has"
  stats = device.memory_stats() or {}
  return stats.get("bytes_limit"), f"each {device.platform} device has"


def _check_fits(parts: dict[str, int], device: jax.Device | None = None) -> None:
  """Raises :class:`DoesNotFit` if ``parts`` (what needs memory: its bytes) add up to more
  than the host has (``device`` None) or than a local accelerator ``device`` has.

  Every process must call it alike: all of them raise, or none does, since the others
  would wait for them in the next collective.
  """
  limit, whose = _memory_limit(device)
  needed = sum(parts.values())
  fits = limit is None or needed <= limit
  if jax.process_count() > 1:
    fits_everywhere = bool(np.all(multihost_utils.process_allgather(np.bool_(fits))))
  else:
    fits_everywhere = fits
  if fits_everywhere:
    return
  if fits:
    raise DoesNotFit("the runs need more memory than another process's host has")
  needs = "; ".join(f"{what}: {_readable_bytes(n)}" for what, n in parts.items() if n)
  raise DoesNotFit(
      f"the runs need {_readable_bytes(needed)} of memory ({needs}), and {whose}"
      f" {_readable_bytes(limit)}"
  )


def _save(checkpointer: Checkpointer, snapshot: Snapshot) -> None:
  # Every process gathers the snapshot (a collective); process 0 alone keeps it.
  if jax.process_index() == 0:
    checkpointer.save(snapshot)


def _restore(checkpointer: Checkpointer | None, template: Snapshot) -> Snapshot | None:
  """Process 0 reads the snapshot and broadcasts it, so only it needs the files."""
  found = checkpointer.restore(template) if checkpointer and jax.process_index() == 0 else None
  if jax.process_count() == 1:
    return found
  steps_done = found.steps_done if found else -1
  steps_done = int(multihost_utils.broadcast_one_to_all(np.int64(steps_done)))
  if steps_done < 0:
    return None
  arrays = multihost_utils.broadcast_one_to_all((found or template)[1:])
  return Snapshot(steps_done, *arrays)


def run(
    trainer: Trainer,
    seeds: np.ndarray,
    leaves: Any = None,
    *,
    vmap_size: int = 0,
    checkpointer: Checkpointer | None = None,
    checkpoint_every: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    finish: Callable[[Any], Any] | None = None,
) -> Outcome:
  """Trains a run per seed in one compiled program, period by period.

  Run ``r`` is ``make_train(trainer)(jax.random.key(seeds[r]), leaves[r])``, to float32
  rounding (a different program). With a ``checkpointer``, the sweep starts from its
  latest snapshot, if it has one, saves one every ``checkpoint_every`` steps (0: never)
  and at the end. A resumed sweep gives the same results as one never interrupted.
  Training stops at the evaluation that finds every run diverged.

  Args:
    trainer: the runs' :class:`Trainer`.
    seeds: ``[runs]`` non-negative integers, the root key of each run.
    leaves: a pytree of numpy arrays ``[runs, ...]``, each run's own inputs to
      ``trainer.init`` (an objective's index, a learning rate), or None.
    vmap_size: runs per vmap group; 0 chooses by backend (:func:`sharding.group_size`).
    checkpointer: where to save and find snapshots; on every process or on none.
    checkpoint_every: steps between snapshots, a multiple of ``trainer.period_steps``.
    on_progress: called as each phase begins and after each period (:class:`Progress`).
    finish: a function of one run's final state to arrays (such as samples or a test),
      applied to every run in the sweep's layout; its outputs are ``Outcome.finished``.
      Passing the same function again (in the same layout) reuses its compilation.

  Returns:
    The :class:`Outcome`.

  Raises:
    DoesNotFit: before training, if the runs need more memory than there is: before
      compiling, the metrics and snapshots the host keeps and the states on the devices
      (against the host's memory on a CPU, an accelerator's own otherwise); once
      compiled, a training period, its temporaries included. On every process alike.
    Interrupted: on Ctrl-C while training.
  """
  num_runs = len(seeds)
  num_steps = trainer.num_periods * trainer.period_steps
  where = sharding.layout(num_runs, vmap_size)
  # On a CPU the devices share the host's memory; an accelerator has its own.
  accelerator = where.mesh.local_devices[0]
  accelerator = None if accelerator.platform == "cpu" else accelerator
  local_runs = where.padded_runs // jax.process_count()

  def compiled(function, *args, **jit_kwargs):
    return jax.jit(sharding.shard_runs(function, where), **jit_kwargs).lower(*args).compile()

  def init(seed, run_leaves):
    return trainer.init(jax.random.key(seed), run_leaves)

  def snapshot(steps_done, state, history):
    return Snapshot(steps_done, where.unpad(sharding.to_host(_keys_as_data(state))), history)

  def report(phase, steps_done, train_seconds=0.0, num_diverged=0):
    if on_progress is not None:
      on_progress(Progress(
          phase=phase, layout=where, steps_done=steps_done, num_steps=num_steps,
          num_runs=num_runs, num_diverged=num_diverged, compile_seconds=compile_seconds,
          train_seconds=train_seconds, resumed_from_step=resumed_from_step,
      ))

  with jax.set_mesh(where.mesh):
    start = time.perf_counter()
    compile_seconds, resumed_from_step = 0.0, 0
    inputs = sharding.to_device(
        where.pad((np.asarray(seeds, np.uint32), leaves)), where.sharding
    )
    state_shapes = jax.eval_shape(jax.vmap(init), *inputs)
    state_data_shapes = jax.eval_shape(_keys_as_data, state_shapes)
    metric_shapes = jax.eval_shape(jax.vmap(trainer.evaluate), state_shapes)
    # The host keeps every evaluation of every run and a snapshot of every state, and the
    # devices a state per run: check they fit before allocating them.
    run_state_bytes = _nbytes(state_data_shapes) // where.padded_runs
    device_states = {"the states on this host's devices": run_state_bytes * local_runs}
    host_bytes = {
        f"the metrics of {num_runs:,} runs x {trainer.num_periods + 1:,} evaluations":
            _nbytes(metric_shapes) // where.padded_runs * (trainer.num_periods + 1) * num_runs,
        f"{num_runs:,} states of {_readable_bytes(run_state_bytes)}":
            run_state_bytes * num_runs,
    }
    _check_fits(host_bytes if accelerator else {**host_bytes, **device_states})
    if accelerator:
      _check_fits({"the states on each device": run_state_bytes * local_runs
                   // len(where.mesh.local_devices)}, accelerator)
    report(COMPILING, 0)
    history = jax.tree.map(
        lambda x: np.full((num_runs, trainer.num_periods + 1, *x.shape[1:]), np.nan, x.dtype),
        metric_shapes,
    )
    template = Snapshot(
        0,
        jax.tree.map(
            lambda x: np.zeros((num_runs, *x.shape[1:]), x.dtype), state_data_shapes,
        ),
        history,
    )
    restored = _restore(checkpointer, template)
    if restored is None:
      steps_done = 0
      state = compiled(init, *inputs)(*inputs)
      _record(history, 0, where.unpad(sharding.to_host(compiled(trainer.evaluate, state)(state))))
    else:
      steps_done, state, history = restored
      state = _data_as_keys(sharding.to_device(where.pad(state), where.sharding), state_shapes)
    latest = steps_done // trainer.period_steps
    num_diverged = _num_diverged(jax.tree.map(lambda x: x[:, latest], history))
    all_diverged = num_diverged == num_runs
    if steps_done < num_steps and not all_diverged:  # Else it only finishes again.
      train_period = compiled(trainer.train_period, state, donate_argnums=0)
      memory = train_period.memory_analysis()
      if memory is not None:  # What a period needs on each device, its temporaries included.
        period_bytes = (memory.argument_size_in_bytes + memory.output_size_in_bytes
                        - memory.alias_size_in_bytes + memory.temp_size_in_bytes)
        if accelerator:
          _check_fits({"a training period on each device": period_bytes}, accelerator)
        else:
          _check_fits({**host_bytes, "a training period on this host's devices":
                       period_bytes * len(where.mesh.local_devices)})
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    resumed_from_step = steps_done
    saved_step = None if restored is None else steps_done
    report(TRAINING, steps_done, num_diverged=num_diverged)
    try:
      for period in range(steps_done // trainer.period_steps, trainer.num_periods):
        if all_diverged:  # Nothing left to learn: stop at the evaluation that found it.
          break
        state, metrics = train_period(state)
        metrics = where.unpad(sharding.to_host(metrics))  # Also waits for the period to end.
        _record(history, period + 1, metrics)
        steps_done = (period + 1) * trainer.period_steps
        num_diverged = _num_diverged(metrics)
        all_diverged = num_diverged == num_runs
        if (checkpointer and checkpoint_every and steps_done % checkpoint_every == 0
            and steps_done < num_steps):
          _save(checkpointer, snapshot(steps_done, state, history))
          saved_step = steps_done
        report(TRAINING, steps_done, time.perf_counter() - start, num_diverged)
    except KeyboardInterrupt:
      raise Interrupted(steps_done, saved_step) from None
    train_seconds = time.perf_counter() - start

    final = snapshot(steps_done, state, history)
    if checkpointer and saved_step != steps_done:
      _save(checkpointer, final)
    start = time.perf_counter()
    finished = None
    if finish is not None:  # Cached: the same finish in the same layout compiles once.
      report(FINISHING, steps_done, train_seconds, num_diverged)
      finished = where.unpad(sharding.to_host(sharding.sharded_program(finish, where)(state)))
    finish_seconds = time.perf_counter() - start
  return Outcome(
      steps=trainer.period_steps * np.arange(trainer.num_periods + 1),
      history=history,
      steps_done=steps_done,
      all_diverged=all_diverged,
      final_state=final.state,
      finished=finished,
      compile_seconds=compile_seconds,
      train_seconds=train_seconds,
      finish_seconds=finish_seconds,
      resumed_from_step=resumed_from_step,
  )
