"""pytest runs the absltest cases without absl's main, which would parse absl flags;
absltest's tempdir helpers read flags, so mark them parsed with their defaults."""

from absl import flags

flags.FLAGS.mark_as_parsed()
