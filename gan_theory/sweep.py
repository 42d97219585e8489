"""The GAN sweep: every (objective, learning rates, seed) run of a config in one compiled
program.

The runs go through the engine (:func:`gan_theory.engine.run`): sharded over every device,
vmapped in groups, advanced one evaluation period at a time with progress and snapshots.
Once trained, every final generator is sampled (and, if asked, its per-sample gradients
taken and two-sample tests run) in the same layout, in one more program.
"""

from collections.abc import Callable
from typing import NamedTuple

import ml_collections
import numpy as np

from gan_theory import engine
from gan_theory.gan import (
    EvalMetrics,
    RunSetting,
    RunState,
    SampleGradients,
    learning_rates,
    make_trainer,
)
from gan_theory.two_sample import Evaluation

__all__ = ["SweepResult", "run_sweep", "sweep_runs"]


class SweepResult(NamedTuple):
  """The outcome of a sweep; run ``r`` is objective ``objectives[r]`` with the learning
  rates of ``settings``, at seed ``seeds[r]``.

  Attributes:
    objectives: the objective name of each run.
    settings: the :class:`RunSetting` of each run, numpy arrays ``[runs]``.
    seeds: ``[runs]`` the seed of each run.
    steps: ``[evals]`` the training step of each evaluation.
    metrics: :class:`EvalMetrics` of numpy arrays ``[runs, evals]``; NaN from a run's
      first evaluation after it diverged, and after ``steps_done``.
    steps_done: the steps every run took: ``config.num_steps``, unless every run
      diverged first (training stops at the evaluation that finds it).
    all_diverged: whether every run had diverged at the last evaluation.
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
  settings: RunSetting
  seeds: np.ndarray
  steps: np.ndarray
  metrics: EvalMetrics
  steps_done: int
  all_diverged: bool
  diverged_step: np.ndarray
  final_state: RunState
  samples: np.ndarray
  sample_gradients: SampleGradients | None
  two_sample: Evaluation | None
  compile_seconds: float
  train_seconds: float
  resumed_from_step: int


def sweep_runs(config: ml_collections.ConfigDict) -> tuple[RunSetting, np.ndarray]:
  """The runs of a sweep: ``(settings, seeds)``, numpy arrays ``[R]``.

  Every objective at every generator learning rate and every discriminator learning rate
  (``config.<network>.learning_rate``, one value or a list), in that order, each at seeds
  ``first_seed .. first_seed + num_seeds - 1``: each seed appears once per setting with
  the same key (common random numbers).
  """
  objective, generator_rate, discriminator_rate, seed = (
      grid.ravel() for grid in np.meshgrid(
          np.arange(len(config.objectives), dtype=np.int32),
          np.asarray(learning_rates(config, "generator"), np.float32),
          np.asarray(learning_rates(config, "discriminator"), np.float32),
          config.first_seed + np.arange(config.num_seeds),
          indexing="ij",
      )
  )
  return RunSetting(objective, generator_rate, discriminator_rate), seed


def run_sweep(
    config: ml_collections.ConfigDict,
    num_samples: int = 1000,
    on_progress: Callable[[engine.Progress], None] | None = None,
    checkpointer: engine.Checkpointer | None = None,
    sample_gradients: bool = False,
    two_sample_tests: bool = False,
) -> SweepResult:
  """Trains every run of ``config`` (:func:`sweep_runs`) in one compiled program.

  With a ``checkpointer``, the sweep starts from its latest snapshot, if it has one,
  and saves a snapshot every ``config.checkpoint_every`` steps (0: never) and at the
  end; a resumed sweep gives the same results as one that was never interrupted. On
  several processes, every process calls this function with the same arguments and
  gets the whole result.

  Args:
    config: a GAN config, as in ``experiments/configs/ring.py``.
    num_samples: how many final generator samples to return per run.
    on_progress: called as each phase begins and after each evaluation period.
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
  settings, seeds = sweep_runs(config)

  def finish(state: RunState):
    return (
        trainer.sample(state, num_samples),
        trainer.sample_gradients(state, num_samples) if sample_gradients else None,
        trainer.compare(state) if two_sample_tests else None,
    )

  outcome = engine.run(
      trainer, seeds, settings, vmap_size=config.vmap_size, checkpointer=checkpointer,
      checkpoint_every=config.checkpoint_every, on_progress=on_progress, finish=finish,
  )
  samples, gradients, comparison = outcome.finished
  return SweepResult(
      objectives=tuple(config.objectives[i] for i in settings.objective),
      settings=settings,
      seeds=seeds,
      steps=outcome.steps,
      metrics=outcome.history,
      steps_done=outcome.steps_done,
      all_diverged=outcome.all_diverged,
      diverged_step=outcome.final_state.diverged_step,
      final_state=outcome.final_state,
      samples=samples,
      sample_gradients=gradients,
      two_sample=comparison,
      compile_seconds=outcome.compile_seconds,
      train_seconds=outcome.train_seconds,
      resumed_from_step=outcome.resumed_from_step,
  )
