"""Pure decision logic shared by the operator and local mode: observed state in, desired
status and children out. Nothing here does I/O."""
