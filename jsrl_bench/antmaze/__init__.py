"""AntMaze (jsrl/AntMaze-v0): locally generated offline datasets, and IQL+JSRL vs IQL fine-tuning on them."""
