"""The shrunken config of every experiment, defined once: the real structure, small enough to
compile and run in seconds.

Tests call an experiment in process with these configs; the launcher's tests pass the same
configs as flags (:func:`launcher_flags`), so both run the same programs, and the session's
compilation cache (see conftest.py) serves the second from the first.
"""

import ml_collections

from experiments.configs import digits, iwae_bounds, likelihood_vs_samples, ml_cost, ring, theory

# The config file behind each experiment's tiny config.
CONFIG_MODULES = {
    "gan_sweep": ring,
    "theory": theory,
    "iwae_bounds": iwae_bounds,
    "vae_digits": digits,
    "likelihood_vs_samples": likelihood_vs_samples,
    "ml_cost": ml_cost,
}


def _shrink_two_sample(config: ml_collections.ConfigDict, num_samples: int) -> None:
  """Few samples and permutations and a small, short-trained classifier and kernel."""
  config.two_sample.num_samples = num_samples
  config.two_sample.num_permutations = 50
  config.two_sample.classifier.hidden_sizes = (8,)
  config.two_sample.classifier.num_steps = 10
  config.two_sample.learned_kernel.hidden_sizes = (8,)
  config.two_sample.learned_kernel.feature_size = 4
  config.two_sample.learned_kernel.num_steps = 10


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  """The GAN sweep, shrunken; without the two-sample tests, which few tests need to compile."""
  config = ring.get_config()
  config.num_seeds = 2
  config.num_steps = 20
  config.eval_every = 10
  config.batch_size = 32
  config.eval_samples = 200
  config.mmd_samples = 100
  config.generator.hidden_sizes = (16, 16)
  config.discriminator.hidden_sizes = (16, 16)
  config.two_sample_tests = False
  _shrink_two_sample(config, num_samples=50)
  config.update_from_flattened_dict(overrides)
  return config


def tiny_ml_cost_config(**overrides) -> ml_collections.ConfigDict:
  """The maximum-likelihood-cost study, shrunken: the oracle and one trained setting."""
  config = ml_cost.get_config()
  config.objectives = ("maximum_likelihood", "mle", "mmd")
  config.discriminator_step_counts = (2,)
  config.num_seeds = 2
  config.num_steps = 20
  config.eval_every = 10
  config.batch_size = 32
  config.eval_samples = 200
  config.mmd_samples = 100
  config.discriminator.hidden_sizes = (8,)
  config.update_from_flattened_dict(overrides)
  return config


def tiny_theory_config(**overrides) -> ml_collections.ConfigDict:
  config = theory.get_config()
  config.num_samples = (10, 100, 1000)
  config.num_seeds = 3
  config.quadrature.num_points = 3001
  config.discriminator.num_steps = 20
  config.discriminator.eval_every = 10
  config.discriminator.num_seeds = 2
  config.discriminator.objectives = ("minimax", "f_kl")
  config.discriminator.hidden_sizes = (8, 8)
  config.update_from_flattened_dict(overrides)
  return config


def tiny_iwae_bounds_config(**overrides) -> ml_collections.ConfigDict:
  config = iwae_bounds.get_config()
  config.dim = 3
  config.num_data = 4
  config.num_importance_samples = (1, 10)
  config.num_replicates = 20
  config.estimators.dims = (1, 2)
  config.estimators.num_samples = 100
  config.update_from_flattened_dict(overrides)
  return config


def tiny_digits_config(**overrides) -> ml_collections.ConfigDict:
  """The digits VAEs, shrunken: small networks, few steps and samples."""
  config = digits.get_config()
  config.num_importance_samples = (1, 5)
  config.encoder_gradients = ("reparameterized", "dreg")
  config.num_seeds = 2
  config.latent_dim = 4
  config.encoder.hidden_sizes = (16,)
  config.decoder.hidden_sizes = (16,)
  config.num_steps = 200
  config.eval_every = 100
  config.evaluation.num_samples = 200
  config.evaluation.chunk_size = 50
  config.mean_field.num_images = 8
  config.mean_field.num_steps = 200
  config.num_pictures = 4
  _shrink_two_sample(config, num_samples=40)
  config.update_from_flattened_dict(overrides)
  return config


def tiny_likelihood_vs_samples_config(**overrides) -> ml_collections.ConfigDict:
  config = likelihood_vs_samples.get_config()
  config.dims = (30,)
  config.num_train = 100
  config.num_replicates = 2
  _shrink_two_sample(config, num_samples=40)
  config.two_sample.classifier.num_steps = 20
  config.calibration.sample_sizes = (10,)
  config.calibration.num_replicates = 10
  config.update_from_flattened_dict(overrides)
  return config


TINY_CONFIGS = {
    "gan_sweep": tiny_config,
    "theory": tiny_theory_config,
    "iwae_bounds": tiny_iwae_bounds_config,
    "vae_digits": tiny_digits_config,
    "likelihood_vs_samples": tiny_likelihood_vs_samples_config,
    "ml_cost": tiny_ml_cost_config,
}


def _flag_value(value) -> str:
  if isinstance(value, bool):
    return str(value).lower()
  if isinstance(value, (tuple, list)):
    if all(isinstance(v, str) for v in value):
      return ",".join(value)  # The launcher splits name lists on commas.
    return "(" + ",".join(repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
  return str(value)


def launcher_flags(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """``--config=FILE``, then ``--config.<field>=<value>`` per field that FILE sets otherwise."""
  module = CONFIG_MODULES[config.experiment]
  default = _flatten(module.get_config().to_dict())
  changed = {k: v for k, v in _flatten(config.to_dict()).items() if default[k] != v}
  return (f"--config={module.__file__}",
          *(f"--config.{field}={_flag_value(value)}" for field, value in changed.items()))


def _flatten(tree: dict, prefix: str = "") -> dict:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f"{prefix}{key}."))
    else:
      flat[f"{prefix}{key}"] = value
  return flat
