"""A grid of (objective, seed) runs as one compiled ``jit(vmap(...))`` program.

The host advances all runs together one evaluation period at a time, so it can report
progress and pull the metrics once per period; each period is a single call of one
compiled program over every run. Chunking does not change the numbers: every draw of a
run is a function of its key and step.

The run axis is sharded over every device with ``shard_map`` on a one-axis mesh named
``runs``: runs never communicate, so each device trains its own runs. On each device,
runs are vmapped in groups of ``vmap_size`` and the groups follow one another
(``lax.map``). On a CPU, groups of 8 keep a step's working set in cache and run about
1.5 times faster than one vmap of 64 runs; on an accelerator, one group of all its runs
fills the device. Runs are padded to whole groups on every device with copies of the
last run, which the results drop.

On several processes (``jax.distributed.initialize``), the mesh spans the devices of
all of them; every process builds the global inputs from the config and gathers the
metrics. A :class:`Checkpointer` saves :class:`Snapshot` s of the sweep between periods
and restores one to resume from; only process 0 calls it, and broadcasts what it read.
"""

import functools
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from gan_theory.gan import EvalMetrics, RunState, SampleGradients, make_trainer
from gan_theory.two_sample import Evaluation

__all__ = [
    "Checkpointer",
    "Layout",
    "Progress",
    "Snapshot",
    "SweepResult",
    "group_size",
    "layout",
    "map_runs",
    "run_sweep",
    "shard_runs",
    "sweep_runs",
    "vmap_in_groups",
]

CPU_VMAP_SIZE = 8
RUNS = "runs"  # The mesh axis that the runs are sharded over.


class SweepResult(NamedTuple):
  """The outcome of a sweep; run ``r`` is objective ``objectives[r]`` at seed ``seeds[r]``.

  Attributes:
    objectives: the objective name of each run.
    seeds: ``[runs]`` the seed of each run.
    steps: ``[evals]`` the training step of each evaluation.
    metrics: :class:`EvalMetrics` of numpy arrays ``[runs, evals]``; NaN from a run's
      first evaluation after it diverged.
    diverged_step: ``[runs]`` the step at which each run diverged, -1 if it did not.
    final_state: the final :class:`RunState` of every run, numpy arrays ``[runs, ...]``,
      its ``key`` as key data.
    samples: ``[runs, num_samples, d]`` generator samples of the final state.
    sample_gradients: :class:`SampleGradients` of those samples, ``[runs, num_samples]``,
      if asked for (None otherwise).
    two_sample: the final generators' :class:`gan_theory.two_sample.Evaluation` against
      held-out data, ``[runs]`` (NaN for diverged runs), if asked for (None otherwise).
    compile_seconds: time spent compiling the training program (and restoring).
    train_seconds: time spent running it, after compilation.
    resumed_from_step: the step of the snapshot the sweep resumed from, 0 if none.
  """

  objectives: tuple[str, ...]
  seeds: np.ndarray
  steps: np.ndarray
  metrics: EvalMetrics
  diverged_step: np.ndarray
  final_state: RunState
  samples: np.ndarray
  sample_gradients: SampleGradients | None
  two_sample: Evaluation | None
  compile_seconds: float
  train_seconds: float
  resumed_from_step: int


class Snapshot(NamedTuple):
  """A sweep's progress, on the host: what a checkpoint holds.

  Attributes:
    steps_done: training steps every run has taken.
    state: the :class:`RunState` of every run as numpy arrays ``[runs, ...]``, its
      ``key`` as key data (``jax.random.key_data``), without padding runs.
    history: :class:`EvalMetrics` of numpy arrays ``[runs, num_periods + 1]``: the
      evaluations so far, NaN for those still to come.
  """

  steps_done: int
  state: RunState
  history: EvalMetrics


class Checkpointer(Protocol):
  """Keeps a sweep's snapshots somewhere.

  Every process passes one to :func:`run_sweep` (or none does): gathering a snapshot
  takes all of them, but only process 0's checkpointer is called.
  """

  def save(self, snapshot: Snapshot) -> None:
    """Stores ``snapshot``."""

  def restore(self, template: Snapshot) -> Snapshot | None:
    """The latest intact snapshot with ``template``'s structure, or None if there is none."""


class Progress(NamedTuple):
  """Where a sweep stands, passed to the progress callback after every period."""

  steps_done: int
  num_steps: int
  num_runs: int
  num_diverged: int
  compile_seconds: float
  train_seconds: float


def sweep_runs(config: ml_collections.ConfigDict) -> tuple[np.ndarray, np.ndarray]:
  """The runs of a sweep, objective-major: ``(objective_index [R], seed [R])``.

  Seeds ``first_seed .. first_seed + num_seeds - 1`` for each objective, so each seed
  appears once per objective with the same key (common random numbers).
  """
  num_objectives = len(config.objectives)
  seeds = config.first_seed + np.arange(config.num_seeds)
  objective_index = np.repeat(np.arange(num_objectives, dtype=np.int32), config.num_seeds)
  return objective_index, np.tile(seeds, num_objectives)


def group_size(vmap_size: int, num_runs: int) -> int:
  """How many runs to vmap together.

  At most ``vmap_size`` runs, or when it is 0, at most 8 on a CPU and all runs on an
  accelerator; the groups are balanced, so padding adds fewer runs than there are
  groups (12 runs at most 8 a group: two groups of 6).
  """
  if vmap_size == 0:
    vmap_size = CPU_VMAP_SIZE if jax.default_backend() == "cpu" else num_runs
  num_groups = -(-num_runs // vmap_size)
  return -(-num_runs // num_groups)


def vmap_in_groups(function: Callable, size: int) -> Callable:
  """``vmap(function)`` over a leading run axis, in groups of ``size`` run in sequence.

  Args:
    function: a function of one run's pytree arguments.
    size: runs per group; the run axis must be a multiple of it.

  Returns:
    A function of the stacked arguments, with the results stacked along the run axis.
  """

  def batched(*args):
    num_runs = jax.tree.leaves(args)[0].shape[0]
    groups = jax.tree.map(lambda x: x.reshape(num_runs // size, size, *x.shape[1:]), args)
    out = jax.lax.map(lambda group: jax.vmap(function)(*group), groups)
    return jax.tree.map(lambda x: x.reshape(num_runs, *x.shape[2:]), out)

  return batched


class Layout(NamedTuple):
  """Where the runs of a sweep go.

  Attributes:
    mesh: a one-axis mesh, named ``runs``, over every device.
    group_size: runs vmapped together on a device.
    padded_runs: runs after padding, a multiple of ``devices x group_size``.
  """

  mesh: jax.sharding.Mesh
  group_size: int
  padded_runs: int


def layout(num_runs: int, vmap_size: int) -> Layout:
  """Spreads ``num_runs`` runs over all devices in vmap groups; see :func:`group_size`."""
  num_devices = jax.device_count()
  per_device = -(-num_runs // num_devices)
  size = group_size(vmap_size, per_device)
  per_device = -(-per_device // size) * size
  # Auto axes: shard_map places the runs explicitly, and host-side slicing (dropping the
  # padding) may then take any layout.
  mesh = jax.make_mesh((num_devices,), (RUNS,), axis_types=(jax.sharding.AxisType.Auto,))
  return Layout(mesh=mesh, group_size=size, padded_runs=per_device * num_devices)


def shard_runs(function: Callable, where: Layout) -> Callable:
  """``function`` of one run, mapped over the run axis as a sweep runs it.

  The run axis, of length ``where.padded_runs``, is sharded over ``where.mesh``; each
  device vmaps its runs in groups of ``where.group_size`` (:func:`vmap_in_groups`).
  """
  return jax.shard_map(
      vmap_in_groups(function, where.group_size), mesh=where.mesh,
      in_specs=PartitionSpec(RUNS), out_specs=PartitionSpec(RUNS),
  )


def _to_host(tree):
  """Every process gets the global value of ``tree``'s sharded arrays as numpy arrays."""
  return multihost_utils.process_allgather(tree, tiled=True)


def _to_device(tree, sharding: NamedSharding):
  """Global arrays from numpy arrays that every process holds in full."""
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(x.shape, sharding, lambda index: x[index]), tree
  )


@functools.lru_cache(maxsize=32)
def _sharded_program(function: Callable, where: Layout) -> Callable:
  # Cached, so that calling map_runs again with the same function reuses its compilation.
  return jax.jit(shard_runs(function, where))


def map_runs(function: Callable, inputs, vmap_size: int = 0):
  """``function`` of one run applied to every run, as a sweep runs them: one compiled program.

  The runs are sharded over every device and vmapped in groups (:func:`layout`,
  :func:`shard_runs`), padded with copies of the last run, which the outputs drop. On
  several processes, every process passes the same inputs and gets every output.

  Args:
    function: a function of one run's arrays (a pytree of them) to a pytree of arrays;
      typed keys neither in nor out (pass seeds, and make keys inside).
    inputs: a pytree of numpy arrays with a leading run axis.
    vmap_size: runs per vmap group; 0 chooses by backend (:func:`group_size`).

  Returns:
    The outputs, numpy arrays with a leading run axis.
  """
  num_runs = jax.tree.leaves(inputs)[0].shape[0]
  where = layout(num_runs, vmap_size)
  keep = np.minimum(np.arange(where.padded_runs), num_runs - 1)
  with jax.set_mesh(where.mesh):
    inputs = _to_device(
        jax.tree.map(lambda x: np.asarray(x)[keep], inputs),
        NamedSharding(where.mesh, PartitionSpec(RUNS)),
    )
    outputs = _sharded_program(function, where)(inputs)
    return jax.tree.map(lambda x: x[:num_runs], _to_host(outputs))


def _record(history: EvalMetrics, column: int, metrics: EvalMetrics) -> None:
  """Writes one evaluation of every run, padding runs dropped, into ``history``."""
  for recorded, new in zip(history, metrics):
    if recorded is not None:  # None: a metric the runs do not measure.
      recorded[:, column] = new[: len(recorded)]


def _save(checkpointer: Checkpointer, snapshot: Snapshot) -> None:
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


def run_sweep(
    config: ml_collections.ConfigDict,
    num_samples: int = 1000,
    on_progress: Callable[[Progress], None] | None = None,
    checkpointer: Checkpointer | None = None,
    sample_gradients: bool = False,
    two_sample_tests: bool = False,
) -> SweepResult:
  """Trains every (objective, seed) run of ``config`` in one compiled program.

  With a ``checkpointer``, the sweep starts from its latest snapshot, if it has one,
  and saves a snapshot every ``config.checkpoint_every`` steps (0: never) and at the
  end. A resumed sweep gives the same results as one that was never interrupted: each
  period is the same compiled program applied to the same state.

  On several processes (``jax.distributed.initialize``), every process calls this
  function with the same arguments and gets the whole result.

  Args:
    config: a GAN config, as in ``experiments/configs/ring.py``.
    num_samples: how many final generator samples to return per run.
    on_progress: called after each evaluation period.
    checkpointer: where to save and find snapshots; on every process or on none.
    sample_gradients: also return each final sample's :class:`SampleGradients` (a
      gradient per sample: memory and time grow with the generator's size).
    two_sample_tests: also compare each final generator with held-out data by every
      two-sample test (``Trainer.compare``; a classifier trained per run).

  Returns:
    The :class:`SweepResult`.

  Raises:
    ConfigError: if ``config`` is not valid; raised before anything compiles.
  """
  trainer = make_trainer(config)
  objective_index, seeds = sweep_runs(config)
  num_runs = len(seeds)
  where = layout(num_runs, config.vmap_size)
  keep = np.minimum(np.arange(where.padded_runs), num_runs - 1)
  sharding = NamedSharding(where.mesh, PartitionSpec(RUNS))

  def compiled(function, *args, **jit_kwargs):
    return jax.jit(shard_runs(function, where), **jit_kwargs).lower(*args).compile()

  def init(seed, objective):
    return trainer.init(jax.random.key(seed), objective)

  def snapshot(steps_done, state, history):
    state = _to_host(state.replace(key=jax.random.key_data(state.key)))
    return Snapshot(steps_done, jax.tree.map(lambda x: x[:num_runs], state), history)

  with jax.set_mesh(where.mesh):
    start = time.perf_counter()
    inputs = _to_device((seeds[keep].astype(np.uint32), objective_index[keep]), sharding)
    init_shapes = jax.eval_shape(jax.vmap(init), *inputs)
    history = jax.tree.map(
        lambda x: np.full((num_runs, trainer.num_periods + 1), np.nan, x.dtype),
        jax.eval_shape(jax.vmap(trainer.evaluate), init_shapes),
    )
    template = Snapshot(
        0,
        jax.tree.map(
            lambda x: np.zeros((num_runs, *x.shape[1:]), x.dtype),
            init_shapes.replace(key=jax.eval_shape(jax.random.key_data, init_shapes.key)),
        ),
        history,
    )
    restored = _restore(checkpointer, template)
    if restored is None:
      steps_done = 0
      state = compiled(init, *inputs)(*inputs)
      _record(history, 0, _to_host(compiled(trainer.evaluate, state)(state)))
    else:
      steps_done, state, history = restored
      state = _to_device(jax.tree.map(lambda x: x[keep], state), sharding)
      state = state.replace(key=jax.random.wrap_key_data(state.key))
    if steps_done < config.num_steps:  # A finished sweep only rewrites its outputs.
      train_period = compiled(trainer.train_period, state, donate_argnums=0)
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    resumed_from_step = steps_done
    for period in range(steps_done // config.eval_every, trainer.num_periods):
      state, metrics = train_period(state)
      metrics = _to_host(metrics)  # Also waits for the period to finish.
      _record(history, period + 1, metrics)
      steps_done = (period + 1) * config.eval_every
      every = config.checkpoint_every
      if checkpointer and every and steps_done % every == 0 and steps_done < config.num_steps:
        _save(checkpointer, snapshot(steps_done, state, history))
      if on_progress is not None:
        on_progress(
            Progress(
                steps_done=steps_done,
                num_steps=config.num_steps,
                num_runs=num_runs,
                num_diverged=int(np.sum(np.isnan(metrics.generator_loss[:num_runs]))),
                compile_seconds=compile_seconds,
                train_seconds=time.perf_counter() - start,
            )
        )
    train_seconds = time.perf_counter() - start

    final = snapshot(steps_done, state, history)
    if checkpointer and resumed_from_step < config.num_steps:
      _save(checkpointer, final)
    samples, gradients, comparison = compiled(
        lambda run_state: (
            trainer.sample(run_state, num_samples),
            trainer.sample_gradients(run_state, num_samples) if sample_gradients else None,
            trainer.compare(run_state) if two_sample_tests else None,
        ),
        state,
    )(state)
    samples, gradients, comparison = jax.tree.map(
        lambda x: x[:num_runs], _to_host((samples, gradients, comparison))
    )
  return SweepResult(
      objectives=tuple(config.objectives[i] for i in objective_index),
      seeds=seeds,
      steps=config.eval_every * np.arange(trainer.num_periods + 1),
      metrics=history,
      diverged_step=final.state.diverged_step,
      final_state=final.state,
      samples=samples,
      sample_gradients=gradients,
      two_sample=comparison,
      compile_seconds=compile_seconds,
      train_seconds=train_seconds,
      resumed_from_step=resumed_from_step,
  )
