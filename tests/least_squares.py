"""A least-squares GAN objective (Mao et al. 2017) registered from user code, as a user would.

The discriminator minimizes ``E_data (D - 1)^2 + E_G D^2`` with ``D = sigmoid(a)``, whose
optimum is ``D* = p_data / (p_data + p_G)`` (so ``a* = log p_data - log p_G``, as in every
built-in game) and whose minimum is ``int p_data p_G / (p_data + p_G) = E_G[D*]``; the
generator minimizes ``E_G (D - 1)^2``. With labels 0 and 1 the cost follows no divergence
that the library knows, so the record states none. Importing this module registers it:
``--imports=tests.least_squares`` makes it trainable by name from the launcher.
"""

import jax

from gan_theory import divergences, objectives

NAME = "least_squares"

LEAST_SQUARES = objectives.register(objectives.Objective(
    NAME,
    objectives.DiscriminatorLoss(
        real=lambda a: jax.nn.sigmoid(-a) ** 2,  # (D - 1)^2
        fake=lambda a: jax.nn.sigmoid(a) ** 2,  # D^2
        minimum=lambda q, log_p_data, log_p_g: divergences.expectation(
            q, log_p_g, jax.nn.sigmoid(log_p_data - log_p_g)
        ),
    ),
    sample_cost=lambda a: jax.nn.sigmoid(-a) ** 2,
))
