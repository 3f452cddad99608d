"""The `jsrl` command: the core's train/evaluate plus `jsrl bench`, `jsrl demos` and `jsrl datasets`."""
