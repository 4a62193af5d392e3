"""Live monitoring: prediction windows, drift detection and alerts."""
