//! Ganvas library.
