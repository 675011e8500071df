//! Unit tests of the invariant checkers on hand-made records.
