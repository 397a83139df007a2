"""What the CLI shows, for local mode and a cluster alike: kubectl-style tables and lists,
the lineage tree and its pictures, evaluation reports. Pure functions over object bodies."""
