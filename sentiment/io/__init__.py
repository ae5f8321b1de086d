"""Reading and writing tables and labeled data, output locks, file modes and progress bars (the lowest layer)."""
