"""VAEs and IWAEs on the binarized digits: test log-likelihood, active units, the encoder's
gap split into approximation and amortization, and the samples against the test images.

Each k trains a run per encoder gradient estimator and seed in one program. Writes to the
workdir: config.json; checkpoints/k<k> (snapshots of each k's runs, to resume from);
results.csv (a row per k, estimator and seed: the test metrics and the two-sample tests of
the model's samples); curves.csv (the validation bounds every eval_every steps);
summary.md (mean ± standard error over seeds per k and estimator, and each estimator's
paired difference from the first); curves.png; samples.png and reconstructions.png (seed
first_seed of each k and estimator).
"""

import functools
from pathlib import Path
from typing import NamedTuple

import jax
import ml_collections
import numpy as np
from absl import logging

from experiments import checkpoints, plots, workdir as workdir_lib
from experiments.progress import log_progress
from gan_theory import engine, two_sample, vae_train
from gan_theory.digits import SIDE, binarized_digits
from gan_theory.metrics import mean_and_stderr

OUTPUTS = (
    "config.json", checkpoints.DIRECTORY, "results.csv", "curves.csv", "summary.md",
    "curves.png", "samples.png", "reconstructions.png",
)


class Model(NamedTuple):
  """What a run trains: ``L_k`` with an encoder gradient estimator."""

  k: int
  encoder_gradient: str


class Results(NamedTuple):
  """Per :class:`Model`, arrays with a leading seed axis; per k, times.

  Attributes:
    seeds: ``[seeds]``.
    curves: per model, the :class:`vae_train.TrainMetrics` ``[seeds, evaluations]``.
    tests: per model, the :class:`vae_train.TestMetrics` ``[seeds]``.
    pictures: per model, the :class:`vae_train.Pictures` ``[seeds, ...]``.
    comparisons: per model, the :class:`two_sample.Evaluation` ``[seeds]``.
    seconds: per k (one program for its estimators), ``(training, testing)`` wall seconds.
    steps_done: per k, the steps its runs took (fewer than ``num_steps`` when every run
      diverged).
  """

  seeds: np.ndarray
  curves: dict[Model, vae_train.TrainMetrics]
  tests: dict[Model, vae_train.TestMetrics]
  pictures: dict[Model, vae_train.Pictures]
  comparisons: dict[Model, two_sample.Evaluation]
  seconds: dict[int, tuple[float, float]]
  steps_done: dict[int, int]


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field that training and testing read (:func:`vae_train.validate`)."""
  vae_train.validate(config, binarized_digits())


def compute(config: ml_collections.ConfigDict, workdir: Path) -> Results:
  """Trains and tests a run per (k, estimator, seed), each k one program resuming from
  ``workdir/checkpoints/k<k>``."""
  data = binarized_digits()
  seeds = config.first_seed + np.arange(config.num_seeds)
  names = tuple(config.encoder_gradients)
  leaves = vae_train.encoder_gradient_leaves(names, len(seeds))
  test = vae_train.make_test(config, data)

  def finish(state):  # One function for every k: one compiled test program for all.
    return test(state.params, state.key)

  results = Results(seeds, {}, {}, {}, {}, {}, {})
  for k in config.num_importance_samples:
    directory = workdir / checkpoints.DIRECTORY / f"k{k}"
    with checkpoints.SweepCheckpoints(directory) as checkpointer:
      outcome = engine.run(
          vae_train.make_trainer(config, k, data), np.tile(seeds, len(names)), leaves,
          vmap_size=config.vmap_size,
          checkpointer=checkpointer, checkpoint_every=config.checkpoint_every,
          on_progress=functools.partial(
              log_progress, what=f"k = {k}: ",
              finishing="testing (L_5000, active units, mean fields, two-sample tests)"),
          finish=finish,
      )
    for index, name in enumerate(names):  # Runs are estimator-major.
      model = Model(k, name)
      of_model = functools.partial(jax.tree.map, lambda a: a[index * len(seeds):][:len(seeds)])
      results.curves[model] = of_model(outcome.history)
      results.tests[model], results.pictures[model], results.comparisons[model] = of_model(
          outcome.finished
      )
    results.steps_done[k] = outcome.steps_done
    results.seconds[k] = (outcome.compile_seconds + outcome.train_seconds, outcome.finish_seconds)
    logging.info("k = %d: %d runs trained in %.0f s, tested in %.0f s", k,
                 len(names) * len(seeds), *results.seconds[k])
  return results


def failure(config: ml_collections.ConfigDict, results: Results) -> str | None:
  """The line naming each model whose every run diverged (its test metrics NaN); None if none."""
  del config
  diverged = [_label(model) for model, tests in results.tests.items()
              if np.all(np.isnan(tests.log_likelihood))]
  if not diverged:
    return None
  return f"every run diverged with {'; '.join(diverged)}"


def _label(model: Model) -> str:
  return f"k = {model.k}, {model.encoder_gradient}"


def report(config: ml_collections.ConfigDict, results: Results) -> dict[str, object]:
  """results.csv, curves.csv, summary.md and the figures."""
  data = binarized_digits()
  steps = config.eval_every * np.arange(config.num_steps // config.eval_every + 1)
  curves, pictures = results.curves, results.pictures
  num_shown = min(config.num_pictures, 16)
  setup = (f"latent dimension {config.latent_dim}, encoder {tuple(config.encoder.hidden_sizes)},"
           f" decoder {tuple(config.decoder.hidden_sizes)}, {config.num_seeds} seeds per k and"
           " encoder gradient")
  last_steps = sorted(set(results.steps_done.values()))
  first = (f"seed {config.first_seed}'s model of each k and encoder gradient at step"
           f" {last_steps[0]:,}" if len(last_steps) == 1 else
           f"seed {config.first_seed}'s model of each k and encoder gradient at its last step")
  # A k whose every run diverged stopped early: its panels say where.
  label = {model: _label(model) if results.steps_done[model.k] == config.num_steps
           else f"{_label(model)} (stopped at step {results.steps_done[model.k]:,})"
           for model in results.tests}
  return {
      "results.csv": _results_csv(results.seeds, results.tests, results.comparisons),
      "curves.csv": _curves_csv(results.seeds, steps, curves),
      "summary.md": _summary_md(config, results.tests, results.comparisons, results.seconds),
      "curves.png": plots.curves_figure(
          steps,
          {
              title: {
                  _label(model): tuple(np.asarray(s) for s in mean_and_stderr(getattr(c, field)))
                  for model, c in curves.items()
              }
              for title, field in (("validation L_k", "validation_bound"),
                                   ("validation ELBO", "validation_elbo"))
          },
          {title: plots.Panel(title, "nats per image (validation average)")
           for title in ("validation L_k", "validation ELBO")},
          config.num_seeds,
          title=f"VAEs and IWAEs on the binarized digits: each k trains on L_k, its encoder by"
                f" each gradient estimator\n{setup}",
      ),
      # The first seed's pictures for each k.
      "samples.png": plots.image_grid_figure(
          {label[model]: p.samples[0] for model, p in pictures.items()}, SIDE, columns=8,
          stacked=False,
          title=f"VAEs and IWAEs on the binarized digits: samples p(x | z), z ~ p(z), of"
                f" {first}\n{setup}",
          key="pixel probability of ink",
      ),
      "reconstructions.png": plots.image_grid_figure(
          {"test images": data.test[:num_shown]}
          | {f"{label[model]}: reconstructions": p.reconstructions[0, :num_shown]
             for model, p in pictures.items()},
          SIDE, columns=num_shown, stacked=True,
          title=f"VAEs and IWAEs on the binarized digits: test images decoded by {first}"
                f"\n{setup}",
          key="pixel value: ink (test images: 0 or 1; decoded: probability)",
      ),
  }


def _results_csv(seeds, results, comparisons) -> str:
  return workdir_lib.csv_text(
      [*Model._fields, "seed", *vae_train.TestMetrics._fields, *two_sample.Evaluation._fields],
      ([*model, int(seed), *(f"{field[s]:.9g}" for field in (*metrics, *comparisons[model]))]
       for model, metrics in results.items() for s, seed in enumerate(seeds)),
  )


def _curves_csv(seeds, steps, curves) -> str:
  return workdir_lib.csv_text(
      [*Model._fields, "seed", "step", *vae_train.TrainMetrics._fields],
      ([*model, int(seed), int(step), *(f"{field[s, e]:.9g}" for field in metrics)]
       for model, metrics in curves.items() for s, seed in enumerate(seeds)
       for e, step in enumerate(steps)),
  )


def _mean_and_stderr(values: np.ndarray, digits: int) -> str:
  """``mean ± standard error`` of ``[seeds]`` values."""
  mean, stderr = mean_and_stderr(np.asarray(values, np.float64))
  return f"{float(mean):.{digits}f} ± {float(stderr):.1g}"


def _cells(metrics, field: str, digits: int) -> str:
  """``mean ± standard error`` over seeds of one field of a NamedTuple of ``[seeds]`` arrays."""
  return _mean_and_stderr(getattr(metrics, field), digits)


def _summary_md(config, results, comparisons, seconds) -> str:
  columns = {
      f"test log p(x) (L_{config.evaluation.num_samples})": ("log_likelihood", 2),
      "test ELBO": ("elbo", 2),
      "active units": ("active_units", 1),
      "approximation gap": ("approximation_gap", 3),
      "amortization gap": ("amortization_gap", 3),
  }
  rows = [
      [*model, *(_cells(metrics, *column) for column in columns.values())]
      for model, metrics in results.items()
  ]
  # Each estimator against the first, seed by seed: the same initial parameters and batches.
  first = config.encoder_gradients[0]
  paired_rows = []
  for model, metrics in results.items():
    if model.encoder_gradient == first:
      continue
    baseline = results[model._replace(encoder_gradient=first)]
    differences = [np.asarray(getattr(metrics, field), np.float64)
                   - np.asarray(getattr(baseline, field), np.float64)
                   for field in ("log_likelihood", "elbo")]
    paired_rows.append([*model, *(_mean_and_stderr(d, 3) for d in differences),
                        f"{int(np.sum(differences[0] > 0))}/{len(differences[0])}"])
  gap_fields = ("mean_field_log_likelihood", "mean_field_elbo", "encoder_elbo",
                "mean_field_last_change")
  gap_rows = [
      [*model, *(_cells(metrics, field, 3) for field in gap_fields)]
      for model, metrics in results.items()
  ]
  sample_fields = ("mmd_p_value", "classifier_accuracy", "precision", "recall", "coverage")
  sample_rows = []
  for model, comparison in comparisons.items():
    runs = len(comparison.mmd2)
    rejected = [f"{int(np.sum(getattr(comparison, f'{test}_p_value') <= 0.05))}/{runs}"
                for test in ("mmd", "classifier", "learned_kernel")]
    cells = [_cells(comparison, field, 3) for field in sample_fields]
    sample_rows.append([*model, *rejected, *cells])
  evaluation, mean_field = config.evaluation, config.mean_field
  return "\n".join([
      "# VAEs and IWAEs on the binarized digits",
      "",
      f"{config.num_seeds} seeds per k and encoder gradient estimator (from"
      f" {config.first_seed}), each k one compiled program; latent dimension {config.latent_dim}, encoder"
      f" {tuple(config.encoder.hidden_sizes)} {config.encoder.activation}, decoder"
      f" {tuple(config.decoder.hidden_sizes)} {config.decoder.activation}, Adam"
      f" {config.learning_rate}, batches of {config.batch_size}, {config.num_steps} steps."
      " Test set: 250 images; mean ± standard error over seeds.",
      "",
      workdir_lib.markdown_table(["k", "encoder gradient", *columns], rows,
                                 align="rl" + "r" * len(columns)),
      "",
      *([f"## Each encoder gradient against {first}, seed by seed",
         "",
         f"The difference from the {first} run of the same seed (the same initial parameters"
         " and batches): mean ± standard error over seeds, and the seeds whose test log p(x)"
         " is higher.",
         "",
         workdir_lib.markdown_table(
             ["k", "encoder gradient", "test log p(x) difference", "test ELBO difference",
              "seeds higher"], paired_rows, align="rlrrr"),
         ""] if paired_rows else []),
      f"log p(x) is estimated by L_{evaluation.num_samples} (the IWAE protocol; a lower bound"
      f" on it); a unit is active when the"
      f" variance of its posterior mean over the test set exceeds"
      f" {evaluation.active_unit_threshold}.",
      "",
      "## The encoder's gap, split (Cremer et al. 2018)",
      "",
      f"On the first {mean_field.num_images} test images: per-image Gaussians q* fitted from"
      f" the encoder's q by Adam ({mean_field.num_steps} steps, {mean_field.num_samples}-sample"
      f" ELBO, step size {mean_field.learning_rate} on a cosine decay), their ELBO L[q*]"
      f" and the encoder's L[q] each from {evaluation.num_samples} samples. Approximation"
      " gap = log p(x) - L[q*]; amortization gap = L[q*] - L[q]. The last column is how much"
      " the mean field's ELBO estimate still rose over its last tenth of steps.",
      "",
      workdir_lib.markdown_table(
          ["k", "encoder gradient", "log p(x)", "L[q*]", "L[q]", "last rise of L[q*]"], gap_rows,
          align="rlrrrr"
      ),
      "",
      "## The samples against the test images",
      "",
      f"{config.two_sample.num_samples} binary samples per model (z ~ p(z), x ~ p(x | z))"
      f" against as many test images: the MMD permutation test, the classifier test"
      f" (held-out accuracy, 0.5 when indistinguishable), the MMD test with a learned kernel"
      f" (Liu et al. 2020) and k ="
      f" {config.two_sample.num_neighbours} precision/recall/coverage. 'rejects': seeds"
      " with p <= 0.05.",
      "",
      workdir_lib.markdown_table(
          ["k", "encoder gradient", "MMD rejects", "classifier rejects", "learned-kernel rejects",
           *sample_fields], sample_rows, align="rl" + "r" * (3 + len(sample_fields)),
      ),
      "",
      "## Time",
      "",
      workdir_lib.markdown_table(
          ["k (every estimator)", "training s", "testing s"],
          ([k, f"{train:.0f}", f"{test:.0f}"] for k, (train, test) in seconds.items()),
          align="rrr",
      ),
      "",
  ])
