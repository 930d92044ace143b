"""Game days: inject the runbook's incidents, detect, remediate, prove recovery, report.

scenario (data) -> target -> drill (faults, probes, detectors, remediation, ledger, revert)
-> journal -> report. Faults, detectors and remediations are registries keyed by name.
"""
