"""Kopf handlers: parse the body once, ask core/ what to do, apply it (kube.py talks to the API)."""
