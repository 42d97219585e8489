"""Config checks that fail fast, with one line naming the field and what is allowed."""

import difflib
import math
from collections.abc import Iterable
from typing import Any

import ml_collections

__all__ = [
    "ConfigError",
    "check_choice",
    "check_choices",
    "check_fraction",
    "check_int",
    "check_positive",
    "check_positive_ints",
    "check_positive_numbers",
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
    raise ConfigError(
        f"config.{field}={value!r} is not allowed; valid: {', '.join(allowed)}"
        f"{_suggestion(value, allowed)}"
    )
  return value


def _suggestion(value: Any, allowed: tuple[str, ...]) -> str:
  """``"; did you mean 'x'?"`` for the allowed name closest to a misspelt ``value``, or ``""``."""
  close = difflib.get_close_matches(str(value), allowed, n=1)
  return f"; did you mean {close[0]!r}?" if close else ""


def check_choices(
    config: ml_collections.ConfigDict, field: str, allowed: Iterable[str]
) -> tuple[str, ...]:
  """Returns ``config.<field>``, a non-empty sequence of distinct names from ``allowed``."""
  allowed = tuple(allowed)
  values = _get(config, field)
  values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
  names = ", ".join(allowed)
  if not values:
    raise ConfigError(f"config.{field}={values!r} must name at least one of: {names}")
  for i, value in enumerate(values):
    if value not in allowed:
      raise ConfigError(
          f"config.{field}={values!r}: {value!r} is not one of: {names}"
          f"{_suggestion(value, allowed)}"
      )
    if value in values[:i]:
      raise ConfigError(f"config.{field}={values!r}: {value!r} is named twice; name each once")
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
  """Returns ``config.<field>``, which must be a finite positive number."""
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise ConfigError(f"config.{field}={value!r} must be a positive number")
  if not math.isfinite(value):
    raise ConfigError(f"config.{field}={value!r} must be a finite positive number")
  return value


def check_positive_numbers(config: ml_collections.ConfigDict, field: str) -> tuple[float, ...]:
  """Returns ``config.<field>``, a finite positive number or a non-empty list of distinct
  ones, as a tuple."""
  values = _get(config, field)
  if not isinstance(values, (tuple, list)):
    return (check_positive(config, field),)
  if not values:
    raise ConfigError(f"config.{field}={values!r} must name at least one positive number")
  numbers = []
  for value in values:
    # A flag's list parses "inf" and "nan" as words: name them as the numbers they are.
    number = _float_or_none(value) if isinstance(value, str) else value
    # A one-value list reads as its value, as the flag that set it was written.
    shown = value if number is None else number
    where = (f"config.{field}={shown!r}" if len(values) == 1
             else f"config.{field}={values!r}: {shown!r}")
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not number > 0:
      raise ConfigError(f"{where} must be a positive number")
    if not math.isfinite(number):
      raise ConfigError(f"{where} must be a finite positive number")
    if number in numbers:
      raise ConfigError(f"{where} is named twice; name each once")
    numbers.append(number)
  return tuple(numbers)


def _float_or_none(text: str) -> float | None:
  try:
    return float(text)
  except ValueError:
    return None


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
