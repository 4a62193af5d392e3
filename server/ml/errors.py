"""Domain exceptions raised by the ML layer, with user-facing messages."""


class DataError(ValueError):
    """A flow file or frame that cannot be used; names the column and first bad rows."""

    def __init__(self, message: str, column: str | None = None, rows: list[int] | None = None):
        self.column = column
        self.rows = list(rows or [])[:5]
        detail = message
        if column is not None:
            detail = f"column '{column}': {detail}"
        if self.rows:
            detail = f"{detail} (first offending rows: {', '.join(map(str, self.rows))})"
        self.message = detail
        super().__init__(detail)


class TrainingError(RuntimeError):
    """Training could not produce a model; the message is safe to show to users."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)
