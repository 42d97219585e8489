"""Is likelihood a good measure? Held-out log-likelihood against likelihood-free tests of
samples, for a known p, a memorizer and a noisy model; and the tests' calibration.

Writes to the workdir: config.json; study.csv (a row per dimension, model and replicate:
the held-out log-likelihood and every two-sample statistic); calibration.csv (a row per
sample size, hypothesis and replicate: both tests' outcomes); summary.md (the tables);
study.png and calibration.png.
"""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from experiments import plots, workdir as workdir_lib
from gan_theory import distributions, sweep, two_sample
from gan_theory.metrics import binomial_interval, mean_and_stderr
from gan_theory.validation import (
    ConfigError,
    check_fraction,
    check_int,
    check_positive,
    check_positive_ints,
)

OUTPUTS = (
    "config.json", "study.csv", "calibration.csv", "summary.md", "study.png", "calibration.png",
)
# p itself, the memorizer p1 and the noisy model p2 of the lecture.
MODELS = ("data", "memorizer", "noisy")
# Both samples from N(0, I); the second shifted by shift e_1.
HYPOTHESES = ("null", "shift")
TESTS = ("mmd", "classifier")
# Floats per lax.map batch of held-out points in the log-likelihood: bounds its memory.
_FLOATS_PER_BATCH = 1 << 24
# fold_in tags: the study's and the calibration's keys never meet.
_STUDY, _CALIBRATION = 0, 1


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the experiment reads.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  check_int(config, "seed", minimum=0)
  check_positive_ints(config, "dims")
  check_int(config, "target.num_modes")
  check_positive(config, "target.mode_scale")
  check_positive(config, "target.std")
  check_int(config, "num_train")
  check_positive(config, "memorizer_variance")
  check_fraction(config, "signal_weight")
  check_int(config, "num_replicates")
  two_sample.validate(config, "two_sample")
  check_int(config, "calibration.dim")
  check_positive(config, "calibration.shift")
  # Two points per half for the classifier, more than k for the k-nearest neighbours.
  smallest = max(4, config.two_sample.num_neighbours + 1)
  for size in check_positive_ints(config, "calibration.sample_sizes"):
    if size < smallest:
      raise ConfigError(
          f"config.calibration.sample_sizes={tuple(config.calibration.sample_sizes)!r}:"
          f" each must be at least {smallest}"
      )
  check_int(config, "calibration.num_replicates")
  check_fraction(config, "calibration.alpha")
  check_int(config, "vmap_size", minimum=0)


def _mean_log_prob(model, x: jax.Array, num_components: int) -> jax.Array:
  """The mean log-density of the points ``x``, a bounded batch of them at a time."""
  batch = max(1, _FLOATS_PER_BATCH // (num_components * x.shape[1]))
  return jnp.mean(jax.lax.map(model.log_prob, x, batch_size=min(batch, x.shape[0])))


def _study(config: ml_collections.ConfigDict, dim: int):
  """Every replicate's held-out log-likelihood ``[R, 3]`` and evaluation ``[R, 3]`` in ``dim``."""
  target_key, base = jax.random.split(
      jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), _STUDY), dim)
  )
  target = distributions.random_mixture(target_key, dim, **config.target.to_dict())
  noisy = distributions.Blend(
      target, distributions.moment_matched_gaussian(target), config.signal_weight
  )
  memorizer_std = math.sqrt(config.memorizer_variance)
  num_samples, num_train = config.two_sample.num_samples, config.num_train
  evaluate = jax.vmap(two_sample.make_evaluate(config.two_sample), in_axes=(0, None, 0))

  def replicate(index):
    train_key, held_out_key, sample_key, test_key = jax.random.split(
        jax.random.fold_in(base, index), 4
    )
    held_out = target.sample(held_out_key, num_samples)
    memorizer = distributions.GaussianMixture(
        target.sample(train_key, num_train), memorizer_std
    )
    models = (target, memorizer, noisy)
    log_likelihood = jnp.stack([
        _mean_log_prob(target, held_out, target.num_modes),
        _mean_log_prob(memorizer, held_out, num_train),
        _mean_log_prob(noisy, held_out, target.num_modes + 1),
    ])
    samples = jnp.stack([
        model.sample(key, num_samples)
        for model, key in zip(models, jax.random.split(sample_key, len(models)))
    ])
    return log_likelihood, evaluate(jax.random.split(test_key, len(models)), held_out, samples)

  replicates = np.arange(config.num_replicates, dtype=np.uint32)
  return sweep.map_runs(replicate, replicates, config.vmap_size)


def _calibration(config: ml_collections.ConfigDict, sample_size: int) -> two_sample.Evaluation:
  """Every replicate's evaluation ``[R, 2]`` of the null and the shift at ``sample_size``."""
  settings = config.calibration
  base = jax.random.fold_in(
      jax.random.fold_in(jax.random.key(config.seed), _CALIBRATION), sample_size
  )
  evaluate = jax.vmap(two_sample.make_evaluate(config.two_sample))
  shift = jnp.zeros(settings.dim).at[0].set(settings.shift)

  def replicate(index):
    data_key, test_key = jax.random.split(jax.random.fold_in(base, index))
    draws = jax.random.normal(data_key, (len(HYPOTHESES), 2, sample_size, settings.dim))
    first, second = draws[:, 0], draws[:, 1] + jnp.stack([jnp.zeros_like(shift), shift])[:, None]
    return evaluate(jax.random.split(test_key, len(HYPOTHESES)), first, second)

  replicates = np.arange(settings.num_replicates, dtype=np.uint32)
  return sweep.map_runs(replicate, replicates, config.vmap_size)


def run(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> None:
  """Runs the study and the calibration of ``config`` and writes them to ``workdir``.

  Raises:
    ConfigError: if the config is not valid; nothing compiles, nothing is written.
    WorkdirError: if the workdir cannot take the results; nothing compiles.
  """
  validate(config)
  path = workdir_lib.claim_on_process_0(workdir, config, OUTPUTS, overwrite)
  dims, sizes = tuple(config.dims), tuple(config.calibration.sample_sizes)
  study = {}
  for dim in dims:
    study[dim] = _study(config, dim)
    logging.info("d = %d: study done", dim)
  calibration = {}
  for size in sizes:
    calibration[size] = _calibration(config, size)
    logging.info("n = %d: calibration done", size)

  if jax.process_index() != 0:
    return
  workdir_lib.write_text(path / "study.csv", _study_csv(config, study))
  workdir_lib.write_text(path / "calibration.csv", _calibration_csv(calibration))
  rejections = {
      (size, hypothesis, test): _rejection_rate(config, calibration[size], h, test)
      for size in sizes for h, hypothesis in enumerate(HYPOTHESES) for test in TESTS
  }
  workdir_lib.write_text(path / "summary.md", _summary_md(config, study, rejections))
  workdir_lib.write_figure(path / "study.png", plots.likelihood_vs_samples_figure(
      dims, _study_curves(study), math.log(config.signal_weight)
  ))
  interval = np.array(binomial_interval(config.calibration.num_replicates,
                                        config.calibration.alpha))
  workdir_lib.write_figure(path / "calibration.png", plots.power_figure(
      sizes, rejections, config.calibration.alpha, interval / config.calibration.num_replicates
  ))
  logging.info("wrote %s to %s", ", ".join(OUTPUTS), path)


def _rejection_rate(config, evaluation, hypothesis: int, test: str) -> float:
  p_values = np.asarray(getattr(evaluation, f"{test}_p_value"))[:, hypothesis]
  return float(np.mean(p_values <= config.calibration.alpha))


def _study_csv(config, study) -> str:
  fields = two_sample.Evaluation._fields
  return workdir_lib.csv_text(
      ["dim", "model", "replicate", "log_likelihood", *fields],
      ([dim, model, r, f"{log_likelihood[r, m]:.9g}",
        *(f"{getattr(evaluation, f)[r, m]:.6g}" for f in fields)]
       for dim, (log_likelihood, evaluation) in study.items()
       for r in range(config.num_replicates) for m, model in enumerate(MODELS)),
  )


def _calibration_csv(calibration) -> str:
  fields = two_sample.Evaluation._fields
  return workdir_lib.csv_text(
      ["sample_size", "hypothesis", "replicate", *fields],
      ([size, hypothesis, r, *(f"{getattr(evaluation, f)[r, h]:.6g}" for f in fields)]
       for size, evaluation in calibration.items()
       for r in range(evaluation.mmd2.shape[0]) for h, hypothesis in enumerate(HYPOTHESES)),
  )


def _study_curves(study) -> dict[tuple[str, str], np.ndarray]:
  """(quantity, model) -> ``[dims, 2]`` mean and standard error over replicates."""
  curves = {}
  for m, model in enumerate(MODELS):
    per_dim = {}
    for dim, (log_likelihood, evaluation) in study.items():
      per_dim.setdefault("log_likelihood_per_dim", []).append(log_likelihood[:, m] / dim)
      for field in ("mmd_p_value", "classifier_accuracy", "precision", "recall"):
        per_dim.setdefault(field, []).append(getattr(evaluation, field)[:, m])
    for quantity, values in per_dim.items():
      curves[quantity, model] = np.array([mean_and_stderr(np.asarray(v)) for v in values])
  return curves


def _attainable_sizes(config, sample_size: int) -> dict[str, float]:
  """The largest chance of a p-value <= alpha under the null each test's p-values allow."""
  alpha = config.calibration.alpha
  permutations = config.two_sample.num_permutations
  held_out = 2 * (sample_size - sample_size // 2)
  tails = np.asarray(two_sample.binomial_p_value(np.arange(held_out + 1), held_out))
  return {
      "mmd": math.floor(alpha * (permutations + 1)) / (permutations + 1),
      "classifier": float(np.max(tails[tails <= alpha], initial=0.0)),
  }


def _summary_md(config, study, rejections) -> str:
  settings = config.calibration
  low, high = binomial_interval(settings.num_replicates, settings.alpha)
  replicates = settings.num_replicates
  calibration_rows = []
  for size in settings.sample_sizes:
    sizes = _attainable_sizes(config, size)
    cells = []
    for test in TESTS:
      rate = rejections[size, "null", test]
      inside = "" if low <= round(rate * replicates) <= high else " (outside)"
      cells.append(f"{100 * rate:.1f}%{inside} (size {100 * sizes[test]:.2f}%)")
    power = [f"{100 * rejections[size, 'shift', test]:.1f}%" for test in TESTS]
    calibration_rows.append([size, *cells, *power])

  study_rows = []
  for dim, (log_likelihood, evaluation) in study.items():
    for m, model in enumerate(MODELS):
      mean, stderr = mean_and_stderr(log_likelihood[:, m])
      cells = [f"{float(mean):.2f} ± {float(stderr):.2g}"]
      for field in ("mmd_p_value", "classifier_accuracy", "precision", "recall", "density",
                    "coverage"):
        cells.append(f"{float(np.mean(getattr(evaluation, field)[:, m])):.3f}")
      study_rows.append([dim, model, *cells])
    bound = log_likelihood[:, 0] + math.log(config.signal_weight)
    noisy = log_likelihood[:, MODELS.index("noisy")]
    study_rows.append([
        dim, f"bound log p + log {config.signal_weight:g}",
        f"{float(np.mean(bound)):.2f} (noisy - bound: {float(np.min(noisy - bound)):+.3f} at"
        " least)", *[""] * 6,
    ])

  alpha = settings.alpha
  return "\n".join([
      "# Is likelihood a good measure?",
      "",
      f"## The tests' calibration: {replicates} replicates per sample size",
      "",
      f"N(0, I_{settings.dim}) against N(0, I) (type-I error) and against N({settings.shift:g}"
      f" e_1, I) (power), rejecting at p <= {alpha:g}. Under the null the rejections of a"
      f" test of size {alpha:g} fall in [{low}, {high}] of {replicates} with chance 95%;"
      " 'size' is the largest rejection chance the test's discrete p-values allow"
      f" (the MMD test's {config.two_sample.num_permutations} permutations, the classifier"
      " test's binomial tail).",
      "",
      workdir_lib.markdown_table(
          ["n per side", "MMD type-I", "classifier type-I", "MMD power", "classifier power"],
          calibration_rows, align="rrrrr",
      ),
      "",
      f"## The study: {config.num_replicates} replicates per dimension",
      "",
      f"Held-out log-likelihood (nats, mean ± SE) of {config.two_sample.num_samples} points of"
      f" p, and each model's {config.two_sample.num_samples} samples against them: MMD"
      " p-value, classifier accuracy, precision, recall, density, coverage (means).",
      "",
      workdir_lib.markdown_table(
          ["d", "model", "log-likelihood", "MMD p", "classifier acc.", "precision", "recall",
           "density", "coverage"], study_rows, align="rlrrrrrrr",
      ),
      "",
  ])
