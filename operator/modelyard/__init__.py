"""Modelyard: a Kubernetes operator for AI model management."""

__version__ = "0.1.0"
