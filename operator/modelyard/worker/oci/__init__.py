"""OCI registries over the distribution API, without a container engine.

`reference` parses `registry/repository[:tag][@digest]`; `auth` finds credentials (a pull
secret's dockerconfigjson, the user's docker config, the environment); `client` speaks the
distribution API (token and basic auth, manifests, blobs checked against their digests and
sizes); `layers` reads what a manifest holds (image filesystem layers with whiteouts, ORAS
artifacts, KitOps ModelKits); `pull` brings a model's files out of a reference for the importer;
`modelkit` and `publish` push a stored version as a ModelKit that is also a KServe modelcar layer.
"""
