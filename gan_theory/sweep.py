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
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from gan_theory.gan import EvalMetrics, RunState, make_trainer

__all__ = [
    "Layout",
    "Progress",
    "SweepResult",
    "group_size",
    "layout",
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
    final_state: the stacked final :class:`RunState` of every run, on device.
    samples: ``[runs, num_samples, d]`` generator samples of the final state.
    compile_seconds: time spent compiling the training program.
    train_seconds: time spent running it, after compilation.
  """

  objectives: tuple[str, ...]
  seeds: np.ndarray
  steps: np.ndarray
  metrics: EvalMetrics
  diverged_step: np.ndarray
  final_state: RunState
  samples: np.ndarray
  compile_seconds: float
  train_seconds: float


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


def run_sweep(
    config: ml_collections.ConfigDict,
    num_samples: int = 1000,
    on_progress: Callable[[Progress], None] | None = None,
) -> SweepResult:
  """Trains every (objective, seed) run of ``config`` in one compiled program.

  Args:
    config: a GAN config, as in ``experiments/configs/ring.py``.
    num_samples: how many final generator samples to return per run.
    on_progress: called after each evaluation period.

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

  def compiled(function, *args, **jit_kwargs):
    return jax.jit(shard_runs(function, where), **jit_kwargs).lower(*args).compile()

  def init(seed, objective):
    return trainer.init(jax.random.key(seed), objective)

  with jax.set_mesh(where.mesh):
    start = time.perf_counter()
    inputs = jax.device_put(
        (seeds[keep].astype(np.uint32), objective_index[keep]),
        NamedSharding(where.mesh, PartitionSpec(RUNS)),
    )
    state = compiled(init, *inputs)(*inputs)
    train_period = compiled(trainer.train_period, state, donate_argnums=0)
    history = [jax.device_get(compiled(trainer.evaluate, state)(state))]
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for period in range(trainer.num_periods):
      state, metrics = train_period(state)
      metrics = jax.device_get(metrics)  # Also waits for the period to finish.
      history.append(metrics)
      if on_progress is not None:
        on_progress(
            Progress(
                steps_done=(period + 1) * config.eval_every,
                num_steps=config.num_steps,
                num_runs=num_runs,
                num_diverged=int(np.sum(np.isnan(metrics.generator_loss[:num_runs]))),
                compile_seconds=compile_seconds,
                train_seconds=time.perf_counter() - start,
            )
        )
    train_seconds = time.perf_counter() - start

    samples = compiled(lambda run_state: trainer.sample(run_state, num_samples), state)(state)
  return SweepResult(
      objectives=tuple(config.objectives[i] for i in objective_index),
      seeds=seeds,
      steps=config.eval_every * np.arange(trainer.num_periods + 1),
      metrics=jax.tree.map(lambda *evals: np.stack(evals, axis=1)[:num_runs], *history),
      diverged_step=np.asarray(state.diverged_step)[:num_runs],
      final_state=jax.tree.map(lambda x: x[:num_runs], state),
      samples=np.asarray(samples)[:num_runs],
      compile_seconds=compile_seconds,
      train_seconds=train_seconds,
  )
