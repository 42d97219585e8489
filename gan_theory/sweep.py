"""A grid of (objective, seed) runs as one compiled ``jit(vmap(...))`` program.

The host advances all runs together one evaluation period at a time, so it can report
progress and pull the metrics once per period; each period is a single call of one
compiled program over every run. Chunking does not change the numbers: every draw of a
run is a function of its key and step.
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_theory.gan import EvalMetrics, RunState, make_trainer

__all__ = ["Progress", "SweepResult", "run_sweep", "sweep_runs"]


class SweepResult(NamedTuple):
  """The outcome of a sweep; run ``r`` is objective ``objectives[r]`` at seed ``seeds[r]``.

  Attributes:
    objectives: the objective name of each run.
    seeds: ``[runs]`` the seed of each run.
    steps: ``[evals]`` the training step of each evaluation.
    metrics: :class:`EvalMetrics` of numpy arrays ``[runs, evals]``.
    final_state: the stacked final :class:`RunState` of every run, on device.
    samples: ``[runs, num_samples, d]`` generator samples of the final state.
    compile_seconds: time spent compiling the training program.
    train_seconds: time spent running it, after compilation.
  """

  objectives: tuple[str, ...]
  seeds: np.ndarray
  steps: np.ndarray
  metrics: EvalMetrics
  final_state: RunState
  samples: np.ndarray
  compile_seconds: float
  train_seconds: float


class Progress(NamedTuple):
  """Where a sweep stands, passed to the progress callback after every period."""

  steps_done: int
  num_steps: int
  num_runs: int
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
  keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))

  start = time.perf_counter()
  state = jax.jit(jax.vmap(trainer.init))(keys, jnp.asarray(objective_index))
  evaluate = jax.jit(jax.vmap(trainer.evaluate))
  train_period = (
      jax.jit(jax.vmap(trainer.train_period), donate_argnums=0).lower(state).compile()
  )
  history = [jax.device_get(evaluate(state))]
  compile_seconds = time.perf_counter() - start

  start = time.perf_counter()
  for period in range(trainer.num_periods):
    state, metrics = train_period(state)
    history.append(jax.device_get(metrics))  # Also waits for the period to finish.
    if on_progress is not None:
      on_progress(
          Progress(
              steps_done=(period + 1) * config.eval_every,
              num_steps=config.num_steps,
              num_runs=len(seeds),
              compile_seconds=compile_seconds,
              train_seconds=time.perf_counter() - start,
          )
      )
  train_seconds = time.perf_counter() - start

  samples = jax.jit(jax.vmap(trainer.sample, in_axes=(0, None)), static_argnums=1)(
      state, num_samples
  )
  return SweepResult(
      objectives=tuple(config.objectives[i] for i in objective_index),
      seeds=seeds,
      steps=config.eval_every * np.arange(trainer.num_periods + 1),
      metrics=jax.tree.map(lambda *evals: np.stack(evals, axis=1), *history),
      final_state=state,
      samples=np.asarray(samples),
      compile_seconds=compile_seconds,
      train_seconds=train_seconds,
  )
