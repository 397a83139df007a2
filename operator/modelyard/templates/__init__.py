"""Templates: import bare weights without writing config (signature, preprocessing, metrics and
the architecture come from the catalog)."""

from modelyard.templates.catalog import Catalog, ResolvedTemplate, Template, TemplateError, load_catalog

__all__ = ["Catalog", "ResolvedTemplate", "Template", "TemplateError", "load_catalog"]
