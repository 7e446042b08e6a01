"""Plain-words findings for the demo summary, one module per mart area."""
