"""Pure builders of the Kubernetes objects Modelyard runs (no API calls here)."""
