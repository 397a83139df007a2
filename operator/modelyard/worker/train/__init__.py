"""Training: the worker that runs an algorithm's code (inputs checked, metrics followed, the model
registered as a version), the SDK the code uses, and the preset algorithms."""
