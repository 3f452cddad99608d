"""What every node runs on: spinning, parameter checks, diagnostics, input-source and step-stamp checks."""
