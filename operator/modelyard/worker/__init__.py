"""What runs inside the Jobs: import, convert, verify, evaluate (`python -m modelyard.worker`)."""
