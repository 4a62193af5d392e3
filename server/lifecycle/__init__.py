"""The model lifecycle past training: the promotion gate, shadow challengers, the live threshold."""
