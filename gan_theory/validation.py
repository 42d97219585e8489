"""Config checks that fail fast, with one line naming the field and what is allowed."""

from collections.abc import Iterable
from typing import Any

import ml_collections

__all__ = [
    "ConfigError",
    "check_choice",
    "check_choices",
    "check_int",
    "check_positive",
    "check_positive_ints",
]


class ConfigError(ValueError):
  """A config field holds a value that is not allowed."""


def _get(config: ml_collections.ConfigDict, field: str) -> Any:
  value = config
  for part in field.split("."):
    try:
      value = value[part]
    except (KeyError, AttributeError, TypeError):
      raise ConfigError(f"config.{field} is missing") from None
  return value


def check_choice(config: ml_collections.ConfigDict, field: str, allowed: Iterable[str]) -> str:
  """Returns ``config.<field>``, which must be one of ``allowed``."""
  allowed = tuple(allowed)
  value = _get(config, field)
  if value not in allowed:
    raise ConfigError(f"config.{field}={value!r} is not allowed; valid: {', '.join(allowed)}")
  return value


def check_choices(
    config: ml_collections.ConfigDict, field: str, allowed: Iterable[str]
) -> tuple[str, ...]:
  """Returns ``config.<field>``, a non-empty sequence of distinct names from ``allowed``."""
  allowed = tuple(allowed)
  values = _get(config, field)
  values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
  unknown = [v for v in values if v not in allowed]
  if not values or unknown or len(set(values)) != len(values):
    raise ConfigError(
        f"config.{field}={values!r} must be distinct names from: {', '.join(allowed)}"
    )
  return values


def check_int(config: ml_collections.ConfigDict, field: str, minimum: int = 1) -> int:
  """Returns ``config.<field>``, which must be an integer of at least ``minimum``."""
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    allowed = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )
    raise ConfigError(f"config.{field}={value!r} must be {allowed}")
  return value


def check_positive(config: ml_collections.ConfigDict, field: str) -> float:
  """Returns ``config.<field>``, which must be a positive number."""
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise ConfigError(f"config.{field}={value!r} must be a positive number")
  return value


def check_fraction(config: ml_collections.ConfigDict, field: str) -> float:
  """Returns ``config.<field>``, which must be a number strictly between 0 and 1."""
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
    raise ConfigError(f"config.{field}={value!r} must be a number in (0, 1)")
  return value


def check_positive_ints(config: ml_collections.ConfigDict, field: str) -> tuple[int, ...]:
  """Returns ``config.<field>``, a non-empty sequence of positive integers."""
  values = _get(config, field)
  values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
  if not values or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in values):
    raise ConfigError(f"config.{field}={values!r} must be a non-empty list of positive integers")
  return values
