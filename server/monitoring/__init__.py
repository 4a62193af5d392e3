"""Live monitoring: the prediction log, delayed labels, per-window performance, drift detection and alerts."""
