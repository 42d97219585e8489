"""Tests for gan_theory.validation: each check passes good values and names the bad field."""

import ml_collections
from absl.testing import absltest, parameterized

from gan_theory import validation
from gan_theory.validation import ConfigError


def _config(**fields) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({"outer": ml_collections.ConfigDict(fields)})


class ChecksTest(parameterized.TestCase):

  def test_good_values_are_returned(self):
    config = _config(name="b", names=("a", "c"), count=3, rate=0.5, sizes=(4, 5))
    self.assertEqual(validation.check_choice(config, "outer.name", ("a", "b")), "b")
    self.assertEqual(validation.check_choices(config, "outer.names", ("a", "b", "c")), ("a", "c"))
    self.assertEqual(validation.check_int(config, "outer.count"), 3)
    self.assertEqual(validation.check_positive(config, "outer.rate"), 0.5)
    self.assertEqual(validation.check_positive_ints(config, "outer.sizes"), (4, 5))

  @parameterized.parameters(
      (validation.check_choice, dict(name="z"), ("a", "b"),
       "config.outer.name='z' is not allowed; valid: a, b"),
      (validation.check_choice, dict(name="ringg"), ("ring", "grid"),
       "config.outer.name='ringg' is not allowed; valid: ring, grid; did you mean 'ring'?"),
      (validation.check_choices, dict(name=("a", "a")), ("a", "b"),
       "config.outer.name=('a', 'a'): 'a' is named twice; name each once"),
      (validation.check_choices, dict(name=("a", "q")), ("a", "b"),
       "config.outer.name=('a', 'q'): 'q' is not one of: a, b"),
      (validation.check_choices, dict(name=("minimax", "non_saturatin")),
       ("minimax", "non_saturating"),
       "'non_saturatin' is not one of: minimax, non_saturating; did you mean 'non_saturating'?"),
      (validation.check_choices, dict(name=()), ("a",),
       "config.outer.name=() must name at least one of: a"),
  )
  def test_bad_choice(self, check, fields, allowed, message):
    with self.assertRaises(ConfigError) as raised:
      check(_config(**fields), "outer.name", allowed)
    self.assertIn(message, str(raised.exception))

  @parameterized.parameters(
      (0, 1, "config.outer.n=0 must be a positive integer"),
      (-1, 0, "config.outer.n=-1 must be a non-negative integer"),
      (1, 2, "config.outer.n=1 must be an integer >= 2"),
      (2.5, 1, "config.outer.n=2.5 must be a positive integer"),
      (True, 1, "config.outer.n=True must be a positive integer"),
  )
  def test_bad_int(self, value, minimum, message):
    with self.assertRaisesWithLiteralMatch(ConfigError, message):
      validation.check_int(_config(n=value), "outer.n", minimum=minimum)

  @parameterized.parameters(0.0, -1e-3, float("nan"), "fast")
  def test_bad_positive(self, value):
    with self.assertRaisesRegex(ConfigError, "config.outer.x=.* must be a positive number"):
      validation.check_positive(_config(x=value), "outer.x")

  def test_infinite_positive(self):
    with self.assertRaisesWithLiteralMatch(
        ConfigError, "config.outer.x=inf must be a finite positive number"
    ):
      validation.check_positive(_config(x=float("inf")), "outer.x")

  @parameterized.parameters(((),), ((3, 0),), ((3, -1),), ((2.0,),), (2.0,), (0,))
  def test_bad_positive_ints(self, value):
    with self.assertRaisesRegex(ConfigError, "must be a non-empty list of positive integers"):
      validation.check_positive_ints(_config(sizes=value), "outer.sizes")

  def test_missing_field(self):
    with self.assertRaisesWithLiteralMatch(ConfigError, "config.outer.absent is missing"):
      validation.check_int(_config(), "outer.absent")


if __name__ == "__main__":
  absltest.main()
