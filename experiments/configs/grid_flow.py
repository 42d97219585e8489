"""The 5x5 grid with a flow generator: every objective, and the maximum-likelihood baseline."""

import ml_collections

from experiments.configs import grid, ring_flow


def get_config() -> ml_collections.ConfigDict:
  return ring_flow.use_flow(grid.get_config())
