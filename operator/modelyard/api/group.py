"""The API group and version, importable without the models (the store's manifests name it)."""

GROUP = "modelyard.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
