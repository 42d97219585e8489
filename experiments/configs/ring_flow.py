"""The ring with a flow generator: every objective, and the maximum-likelihood baseline.

A RealNVP generator has an exact density, so each evaluation adds the held-out negative
log-likelihood, KL(p_data || p_G), KL(p_G || p_data) and the JSD; the "mle" row trains
the same flow by maximum likelihood. Eight seeds per objective.
"""

import ml_collections

from experiments.configs import ring


def use_flow(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Switches a GAN sweep config to the flow generator, with the "mle" row and 8 seeds."""
  config.generator.kind = "flow"
  config.generator.hidden_sizes = (64, 64)
  config.generator.num_couplings = 6
  config.objectives = (*config.objectives, "mle")
  config.num_seeds = 8
  return config


def get_config() -> ml_collections.ConfigDict:
  return use_flow(ring.get_config())
