"""Bulk scoring (`congestion score`): chunked reading, row checks, batch features, scoring and atomic output.

reader -> rows -> features -> job (-> output, writer); cli loads the version and prints the summary.
"""
