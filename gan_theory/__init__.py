"""gan_theory: the theory of generative models as pure, compiled JAX functions."""

__version__ = "0.1.0"
