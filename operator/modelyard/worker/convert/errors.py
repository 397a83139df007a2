"""Reasons a conversion fails, as CamelCase constants (the operator copies them into conditions)."""

from __future__ import annotations

from modelyard.worker.errors import WorkerError

TOOL_MISSING = "ToolMissing"
VERIFICATION_FAILED = "VerificationFailed"
UNSUPPORTED_OPERATOR = "UnsupportedOperator"
UNSUPPORTED_CONVERSION = "UnsupportedConversion"
EXPORT_FAILED = "ExportFailed"
INVALID_MODEL = "InvalidModel"
INVALID_CALIBRATION = "InvalidCalibration"
TOOL_FAILED = "ToolFailed"
DYNAMIC_AXIS_LOST = "DynamicAxisLost"
INVALID_SPEC = "InvalidSpec"
NOTHING_CONVERTED = "NothingConverted"
CONVERSION_FAILED = "ConversionFailed"


class ConversionError(WorkerError):
    """A conversion failure the user can act on (`reason` is one of the constants above)."""
