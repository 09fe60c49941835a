"""The environment a run happened in (``empirical.provenance``, re-exported here for the verify layer)."""

from memsep.empirical.provenance import code_fingerprint, environment, run_stamp

__all__ = ["environment", "code_fingerprint", "run_stamp"]
