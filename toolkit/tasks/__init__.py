"""Tasks (training objectives), one module each; ``toolkit.registry`` finds them by name."""
